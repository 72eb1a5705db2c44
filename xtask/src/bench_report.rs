//! The benchmark's rows, medians over rounds, the table and the JSON of `target/bench/`.
//!
//! Rows come from `xtask/bench.sh`, one a measured run, tab-separated:
//! `round server endpoint connections rps p50_ms p99_ms non_2xx vmhwm_kib`.

use std::collections::BTreeMap;

/// What the run was made on and with.
pub struct Meta {
    pub commit: String,
    pub machine: String,
    /// Bytes of the release bundle's files.
    pub wasm: Sizes,
    pub js: Sizes,
    pub css: Sizes,
}

/// One file of the bundle: as built, and as it goes on the wire to a browser that accepts gzip
/// or brotli (the precompressed `.gz` and `.br` files the server sends; 0 when missing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sizes {
    pub raw: u64,
    pub gzip: u64,
    pub brotli: u64,
}

impl Sizes {
    fn json(self) -> String {
        format!(
            "{{\"raw\": {}, \"gzip\": {}, \"brotli\": {}}}",
            self.raw, self.gzip, self.brotli
        )
    }
}

impl Meta {
    /// What a first visit downloads of the bundle with brotli (every later visit: nothing, the
    /// names are content-hashed and cached for a year). The page itself is not counted.
    pub fn first_visit_bytes(&self) -> u64 {
        self.wasm.brotli + self.js.brotli + self.css.brotli
    }
}

/// One (server, endpoint, connections) over all rounds.
#[derive(Debug, Default)]
struct Runs {
    rps: Vec<f64>,
    p50: Vec<f64>,
    p99: Vec<f64>,
    non_2xx: u64,
    rss_kib: u64,
}

/// Medians of one (server, endpoint, connections).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub server: String,
    pub endpoint: String,
    pub connections: u32,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub non_2xx: u64,
    pub rss_kib: u64,
}

pub struct Report {
    pub rounds: usize,
    pub rows: Vec<Row>,
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The order servers and endpoints are listed in.
const SERVERS: &[&str] = &[
    "ceiling",
    "express",
    "nuxt",
    "sessionflow-sqlite",
    "sessionflow-postgres",
];
const ENDPOINTS: &[&str] = &["hello", "me", "refresh", "ssr_notes", "ssr_notes_refresh"];

fn rank(list: &[&str], item: &str) -> usize {
    list.iter().position(|x| *x == item).unwrap_or(list.len())
}

impl Report {
    pub fn from_tsv(tsv: &str) -> Self {
        let mut runs: BTreeMap<(usize, usize, u32, String, String), Runs> = BTreeMap::new();
        let mut rounds = 0;
        for line in tsv.lines().filter(|l| !l.trim().is_empty()) {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() < 9 {
                continue;
            }
            let num = |i: usize| f[i].trim().parse::<f64>().unwrap_or(0.0);
            rounds = rounds.max(f[0].parse().unwrap_or(0));
            let connections = num(3) as u32;
            let key = (
                rank(SERVERS, f[1]),
                rank(ENDPOINTS, f[2]),
                connections,
                f[1].to_owned(),
                f[2].to_owned(),
            );
            let r = runs.entry(key).or_default();
            r.rps.push(num(4));
            r.p50.push(num(5));
            r.p99.push(num(6));
            r.non_2xx += num(7) as u64;
            r.rss_kib = r.rss_kib.max(num(8) as u64);
        }
        let rows = runs
            .into_iter()
            .map(|((_, _, connections, server, endpoint), r)| Row {
                server,
                endpoint,
                connections,
                rps: median(&r.rps),
                p50_ms: median(&r.p50),
                p99_ms: median(&r.p99),
                non_2xx: r.non_2xx,
                rss_kib: r.rss_kib,
            })
            .collect();
        Self { rounds, rows }
    }

    fn find(&self, server: &str, endpoint: &str, connections: u32) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.server == server && r.endpoint == endpoint && r.connections == connections)
    }

    /// The peer a sessionflow row is compared with: Express for the API, Nuxt for pages.
    fn peer_of(&self, row: &Row) -> Option<&Row> {
        if !row.server.starts_with("sessionflow") {
            return None;
        }
        let peer = match row.endpoint.as_str() {
            "me" | "refresh" => "express",
            _ => "nuxt",
        };
        self.find(peer, &row.endpoint, row.connections)
    }

    /// Peak RSS of sessionflow on SQLite at 256 connections.
    fn rss_256(&self) -> u64 {
        self.rows
            .iter()
            .filter(|r| r.server.starts_with("sessionflow") && r.connections == 256)
            .map(|r| r.rss_kib)
            .max()
            .unwrap_or(0)
    }

    pub fn table(&self) -> String {
        let ceiling = self.find("ceiling", "hello", 64).map(|r| r.rps);
        let mut out = String::from(
            "| server | endpoint | conns | req/s | p50 ms | p99 ms | non-2xx | × ceiling | × peer | peak RSS MiB |\n\
             |---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for r in &self.rows {
            let vs = |base: Option<f64>| match base {
                Some(b) if b > 0.0 => format!("{:.2}", r.rps / b),
                _ => "–".into(),
            };
            out.push_str(&format!(
                "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {} | {} | {} | {:.1} |\n",
                r.server,
                r.endpoint,
                r.connections,
                r.rps,
                r.p50_ms,
                r.p99_ms,
                r.non_2xx,
                vs(ceiling),
                vs(self.peer_of(r).map(|p| p.rps)),
                r.rss_kib as f64 / 1024.0,
            ));
        }
        out.push_str(&format!(
            "\nmedians of {} rounds; sessionflow peak RSS at 256 connections: {:.1} MiB\n",
            self.rounds,
            self.rss_256() as f64 / 1024.0
        ));
        out
    }

    pub fn json(&self, meta: &Meta) -> String {
        let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        let rows: Vec<String> = self
            .rows
            .iter()
            .map(|r| {
                format!(
                    "{{\"server\": \"{}\", \"endpoint\": \"{}\", \"connections\": {}, \"rps\": {:.0}, \
                     \"p50_ms\": {:.3}, \"p99_ms\": {:.3}, \"non_2xx\": {}, \"rss_kib\": {}}}",
                    esc(&r.server),
                    esc(&r.endpoint),
                    r.connections,
                    r.rps,
                    r.p50_ms,
                    r.p99_ms,
                    r.non_2xx,
                    r.rss_kib
                )
            })
            .collect();
        format!(
            "{{\"commit\": \"{}\", \"machine\": \"{}\", \"rounds\": {}, \"rows\": [\n  {}\n], \
             \"rss_256_kib\": {}, \"wasm\": {}, \"js\": {}, \"css\": {}, \
             \"first_visit_bytes\": {}}}\n",
            esc(&meta.commit),
            esc(&meta.machine),
            self.rounds,
            rows.join(",\n  "),
            self.rss_256(),
            meta.wasm.json(),
            meta.js.json(),
            meta.css.json(),
            meta.first_visit_bytes()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TSV: &str = "1\tceiling\thello\t64\t90000\t0.6\t1.2\t0\t5000\n\
        2\tceiling\thello\t64\t80000\t0.7\t1.3\t0\t5100\n\
        1\texpress\tme\t64\t4000\t15\t200\t0\t150000\n\
        2\texpress\tme\t64\t3000\t17\t230\t0\t151000\n\
        1\tsessionflow-sqlite\tme\t64\t40000\t1.5\t3\t0\t30000\n\
        2\tsessionflow-sqlite\tme\t64\t42000\t1.4\t2.8\t0\t31000\n\
        1\tsessionflow-sqlite\tssr_notes\t256\t9000\t20\t40\t0\t38000\n";

    #[test]
    fn medians_over_rounds_and_ratios_to_the_ceiling_and_the_peer() {
        let r = Report::from_tsv(TSV);
        assert_eq!(r.rounds, 2);
        let me = r.find("sessionflow-sqlite", "me", 64).unwrap();
        assert_eq!(me.rps, 41000.0);
        assert_eq!(me.rss_kib, 31000, "peak RSS is the highest round");
        assert_eq!(r.peer_of(me).unwrap().rps, 3500.0);
        let table = r.table();
        assert!(
            table.contains("| sessionflow-sqlite | me | 64 | 41000 |"),
            "{table}"
        );
        assert!(
            table.contains("| 0.48 | 11.71 |"),
            "×ceiling and ×peer: {table}"
        );
        assert_eq!(r.rss_256(), 38000);
    }

    #[test]
    fn the_json_has_the_agreed_shape() {
        let meta = Meta {
            commit: "abc123".into(),
            machine: "2 × test cpu".into(),
            wasm: Sizes {
                raw: 900_000,
                gzip: 360_000,
                brotli: 250_000,
            },
            js: Sizes {
                raw: 27_000,
                gzip: 7_500,
                brotli: 6_500,
            },
            css: Sizes {
                raw: 5_000,
                gzip: 1_600,
                brotli: 1_300,
            },
        };
        let json = Report::from_tsv(TSV).json(&meta);
        for part in [
            "\"commit\": \"abc123\"",
            "\"rounds\": 2",
            "{\"server\": \"ceiling\", \"endpoint\": \"hello\", \"connections\": 64, \"rps\": 85000,",
            "\"rss_256_kib\": 38000",
            "\"wasm\": {\"raw\": 900000, \"gzip\": 360000, \"brotli\": 250000}",
            "\"js\": {\"raw\": 27000, \"gzip\": 7500, \"brotli\": 6500}",
            "\"css\": {\"raw\": 5000, \"gzip\": 1600, \"brotli\": 1300}",
            "\"first_visit_bytes\": 257800",
        ] {
            assert!(json.contains(part), "{part} in {json}");
        }
    }
}
