//! The benchmark's rows, medians over rounds, the table and the JSON of `target/bench/`.
//!
//! Rows come from `xtask/bench.sh`, one a measured run, tab-separated. Closed loop (wrk):
//! `round server endpoint connections rps p50_ms p99_ms non_2xx vmhwm_kib`. Open loop:
//! `open round server endpoint connections rate of_peak vmhwm_kib JSON`, where JSON is what the
//! tool printed (`oha --output-format json`, or xtask's `openloop`, which prints the same
//! fields) on one line and `of_peak` is the fraction of the server's own peak or `-`. Bytes:
//! `asset server kind path encoding bytes status content_encoding cache_control how`.

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

/// Medians of one (server, endpoint, rate) at a fixed arrival rate.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenRow {
    pub server: String,
    pub endpoint: String,
    pub connections: u32,
    /// Requests per second sent, whatever the answers.
    pub rate: u32,
    /// The fraction of the server's own closed-loop peak; `None` for the common rate.
    pub rate_of_peak: Option<f64>,
    /// Answers per second measured.
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub non_2xx: u64,
    /// Requests with no answer (connection errors, time-outs).
    pub errors: u64,
    /// Measured requests, all rounds.
    pub requests: u64,
    pub rss_kib: u64,
    pub tool: String,
}

/// One file of a first visit, fetched with one `Accept-Encoding`.
#[derive(Debug, Clone, PartialEq)]
pub struct Asset {
    pub server: String,
    /// document, script, style, wasm.
    pub kind: String,
    pub path: String,
    /// `br` or `gzip`: what the request accepted.
    pub encoding: String,
    /// The body's bytes as sent.
    pub bytes: u64,
    pub status: u16,
    /// The answer's `Content-Encoding` (empty: sent as is).
    pub content_encoding: String,
    pub cache_control: String,
    /// `browser` (what Chromium fetched) or `html` (what the HTML names).
    pub how: String,
}

impl Asset {
    /// Whether a browser that has this file keeps using it for a day without asking again:
    /// `immutable`, or a `max-age` of a day or more, and neither `no-store` nor `no-cache`. What
    /// is not is counted as downloaded again in full (no `Cache-Control`: browsers guess a
    /// freshness from `Last-Modified`, which the bench does not assume).
    pub fn cached_on_repeat(&self) -> bool {
        let cc = self.cache_control.to_ascii_lowercase();
        let directives: Vec<&str> = cc.split(',').map(str::trim).collect();
        if directives
            .iter()
            .any(|d| *d == "no-store" || *d == "no-cache")
        {
            return false;
        }
        directives.iter().any(|d| {
            *d == "immutable"
                || d.strip_prefix("max-age=")
                    .and_then(|v| v.trim_matches('"').parse::<u64>().ok())
                    .is_some_and(|s| s >= 86_400)
        })
    }
}

/// Bytes of a first visit, as sent, by what the browser accepted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Visit {
    pub brotli: u64,
    pub gzip: u64,
    /// The bundle's bytes (not the document) a repeat visit downloads with brotli.
    pub repeat: u64,
    pub files: usize,
}

pub struct Report {
    pub rounds: usize,
    pub rows: Vec<Row>,
    pub open: Vec<OpenRow>,
    pub assets: Vec<Asset>,
}

/// The text of the JSON object that follows `"key":` (balanced braces; strings are assumed
/// to hold no braces, true of the tools' output).
fn json_object<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let at = json.find(&format!("\"{key}\""))?;
    let rest = &json[at..];
    let open = rest.find('{')?;
    let mut depth = 0;
    for (i, c) in rest[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&rest[open..=open + i]);
                }
            }
            _ => {}
        }
    }
    None
}

/// The number after `"key":` in `json` (`null` and a missing key are `None`).
fn json_number(json: &str, key: &str) -> Option<f64> {
    let at = json.find(&format!("\"{key}\""))? + key.len() + 2;
    let rest = json[at..].trim_start().strip_prefix(':')?.trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || "+-.eE".contains(c)))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Every `"key": number` pair of a flat JSON object.
fn json_pairs(object: &str) -> Vec<(String, f64)> {
    object
        .trim_matches(|c| c == '{' || c == '}')
        .split(',')
        .filter_map(|pair| {
            let (k, v) = pair.split_once(':')?;
            Some((
                k.trim().trim_matches('"').to_owned(),
                v.trim().parse().ok()?,
            ))
        })
        .collect()
}

/// What one open-loop run measured, from the tool's JSON.
#[derive(Debug, Default, PartialEq)]
struct OpenRun {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    non_2xx: u64,
    errors: u64,
    requests: u64,
    tool: String,
}

impl OpenRun {
    fn from_json(json: &str) -> Self {
        let pct = json_object(json, "latencyPercentiles").unwrap_or("");
        let ms = |k: &str| json_number(pct, k).unwrap_or(0.0) * 1000.0;
        let codes = json_pairs(json_object(json, "statusCodeDistribution").unwrap_or("{}"));
        let answered: f64 = codes.iter().map(|(_, n)| n).sum();
        let non_2xx: f64 = codes
            .iter()
            .filter(|(c, _)| !c.starts_with('2') && !c.starts_with('3'))
            .map(|(_, n)| n)
            .sum();
        let errors: f64 = json_pairs(json_object(json, "errorDistribution").unwrap_or("{}"))
            .iter()
            .map(|(_, n)| n)
            .sum();
        let summary = json_object(json, "summary").unwrap_or("");
        let tool = if json.contains("\"tool\": \"openloop\"") {
            "openloop"
        } else {
            "oha"
        };
        Self {
            rps: json_number(summary, "requestsPerSec").unwrap_or(0.0),
            p50_ms: ms("p50"),
            p99_ms: ms("p99"),
            p999_ms: ms("p99.9"),
            non_2xx: non_2xx as u64,
            errors: errors as u64,
            requests: (answered + errors) as u64,
            tool: tool.into(),
        }
    }
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
        type OpenKey = (usize, usize, u32, String, String, u32, String);
        let mut open: BTreeMap<OpenKey, Vec<(OpenRun, u64)>> = BTreeMap::new();
        let mut assets = Vec::new();
        let mut rounds = 0;
        for line in tsv.lines().filter(|l| !l.trim().is_empty()) {
            let f: Vec<&str> = line.split('\t').collect();
            match f[0] {
                "open" if f.len() >= 9 => {
                    rounds = rounds.max(f[1].parse().unwrap_or(0));
                    let key = (
                        rank(SERVERS, f[2]),
                        rank(ENDPOINTS, f[3]),
                        f[5].parse().unwrap_or(0),
                        f[2].to_owned(),
                        f[3].to_owned(),
                        f[4].parse().unwrap_or(0),
                        f[6].to_owned(),
                    );
                    let rss = f[7].trim().parse().unwrap_or(0);
                    open.entry(key)
                        .or_default()
                        .push((OpenRun::from_json(f[8]), rss));
                    continue;
                }
                "asset" if f.len() >= 10 => {
                    assets.push(Asset {
                        server: f[1].to_owned(),
                        kind: f[2].to_owned(),
                        path: f[3].to_owned(),
                        encoding: f[4].to_owned(),
                        bytes: f[5].trim().parse().unwrap_or(0),
                        status: f[6].trim().parse().unwrap_or(0),
                        content_encoding: f[7].trim().to_owned(),
                        cache_control: f[8].trim().to_owned(),
                        how: f[9].trim().to_owned(),
                    });
                    continue;
                }
                _ if f.len() < 9 || f[0].parse::<usize>().is_err() => continue,
                _ => {}
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
        let open = open
            .into_iter()
            .map(
                |((_, _, rate, server, endpoint, connections, of_peak), runs)| {
                    let m = |f: fn(&OpenRun) -> f64| {
                        median(&runs.iter().map(|(r, _)| f(r)).collect::<Vec<_>>())
                    };
                    OpenRow {
                        server,
                        endpoint,
                        connections,
                        rate,
                        rate_of_peak: of_peak.parse().ok(),
                        rps: m(|r| r.rps),
                        p50_ms: m(|r| r.p50_ms),
                        p99_ms: m(|r| r.p99_ms),
                        p999_ms: m(|r| r.p999_ms),
                        non_2xx: runs.iter().map(|(r, _)| r.non_2xx).sum(),
                        errors: runs.iter().map(|(r, _)| r.errors).sum(),
                        requests: runs.iter().map(|(r, _)| r.requests).sum(),
                        rss_kib: runs.iter().map(|(_, rss)| *rss).max().unwrap_or(0),
                        tool: runs
                            .first()
                            .map(|(r, _)| r.tool.clone())
                            .unwrap_or_default(),
                    }
                },
            )
            .collect();
        Self {
            rounds,
            rows,
            open,
            assets,
        }
    }

    /// The first visit of each server whose files were fetched.
    pub fn visits(&self) -> BTreeMap<String, Visit> {
        let mut out: BTreeMap<String, Visit> = BTreeMap::new();
        for a in &self.assets {
            let v = out.entry(a.server.clone()).or_default();
            match a.encoding.as_str() {
                "br" => {
                    v.brotli += a.bytes;
                    v.files += 1;
                    if a.kind != "document" && !a.cached_on_repeat() {
                        v.repeat += a.bytes;
                    }
                }
                "gzip" => v.gzip += a.bytes,
                _ => {}
            }
        }
        out
    }

    /// The common open-loop rate of each endpoint (the rows not tied to a server's own peak).
    fn common_rates(&self) -> BTreeMap<&str, u32> {
        self.open
            .iter()
            .filter(|r| r.rate_of_peak.is_none())
            .map(|r| (r.endpoint.as_str(), r.rate))
            .collect()
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
        if !self.open.is_empty() {
            out.push_str(
                "\nopen loop (fixed arrival rate, latency from when each request was due):\n\n\
                 | server | endpoint | rate/s | of own peak | answered/s | p50 ms | p99 ms | p99.9 ms | non-2xx | errors | requests | tool |\n\
                 |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
            );
            for r in &self.open {
                let of_peak = r
                    .rate_of_peak
                    .map_or("common".into(), |f| format!("{:.0} %", f * 100.0));
                out.push_str(&format!(
                    "| {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {} |\n",
                    r.server,
                    r.endpoint,
                    r.rate,
                    of_peak,
                    r.rps,
                    r.p50_ms,
                    r.p99_ms,
                    r.p999_ms,
                    r.non_2xx,
                    r.errors,
                    r.requests,
                    r.tool
                ));
            }
        }
        let visits = self.visits();
        if !visits.is_empty() {
            out.push_str(
                "\nfirst visit of /notes (document + scripts, styles, wasm; bytes as sent):\n\n\
                 | server | files | brotli B | gzip B | repeat visit B |\n|---|---:|---:|---:|---:|\n",
            );
            for (server, v) in &visits {
                out.push_str(&format!(
                    "| {server} | {} | {} | {} | {} |\n",
                    v.files, v.brotli, v.gzip, v.repeat
                ));
            }
        }
        out
    }

    pub fn json(&self, meta: &Meta) -> String {
        let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        let rows: Vec<String> = self
            .rows
            .iter()
            .map(|r| {
                format!(
                    "{{\"mode\": \"closed\", \"server\": \"{}\", \"endpoint\": \"{}\", \"connections\": {}, \"rps\": {:.0}, \
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
            .chain(self.open.iter().map(|r| {
                format!(
                    "{{\"mode\": \"open\", \"server\": \"{}\", \"endpoint\": \"{}\", \"connections\": {}, \
                     \"rate\": {}, \"rate_of_peak\": {}, \"rps\": {:.0}, \"p50_ms\": {:.3}, \"p99_ms\": {:.3}, \
                     \"p999_ms\": {:.3}, \"non_2xx\": {}, \"errors\": {}, \"requests\": {}, \"rss_kib\": {}, \
                     \"tool\": \"{}\"}}",
                    esc(&r.server),
                    esc(&r.endpoint),
                    r.connections,
                    r.rate,
                    r.rate_of_peak.map_or("null".into(), |f| format!("{f}")),
                    r.rps,
                    r.p50_ms,
                    r.p99_ms,
                    r.p999_ms,
                    r.non_2xx,
                    r.errors,
                    r.requests,
                    r.rss_kib,
                    esc(&r.tool)
                )
            }))
            .collect();
        let common: Vec<String> = self
            .common_rates()
            .iter()
            .map(|(e, r)| format!("\"{}\": {r}", esc(e)))
            .collect();
        let visits = self.visits();
        let first_visit: Vec<String> = visits
            .iter()
            .map(|(s, v)| {
                format!(
                    "\"{}\": {{\"brotli\": {}, \"gzip\": {}}}",
                    esc(s),
                    v.brotli,
                    v.gzip
                )
            })
            .collect();
        let repeat: Vec<String> = visits
            .iter()
            .map(|(s, v)| format!("\"{}\": {}", esc(s), v.repeat))
            .collect();
        let files: Vec<String> = self
            .assets
            .iter()
            .map(|a| {
                format!(
                    "{{\"server\": \"{}\", \"kind\": \"{}\", \"path\": \"{}\", \"accept_encoding\": \"{}\", \
                     \"bytes\": {}, \"status\": {}, \"content_encoding\": \"{}\", \"cache_control\": \"{}\", \
                     \"cached_on_repeat\": {}, \"found_by\": \"{}\"}}",
                    esc(&a.server),
                    esc(&a.kind),
                    esc(&a.path),
                    esc(&a.encoding),
                    a.bytes,
                    a.status,
                    esc(&a.content_encoding),
                    esc(&a.cache_control),
                    a.cached_on_repeat(),
                    esc(&a.how)
                )
            })
            .collect();
        format!(
            "{{\"commit\": \"{}\", \"machine\": \"{}\", \"rounds\": {}, \"rows\": [\n  {}\n], \
             \"common_rate\": {{{}}}, \
             \"rss_256_kib\": {}, \"wasm\": {}, \"js\": {}, \"css\": {}, \
             \"first_visit_bytes\": {}, \"first_visit\": {{{}}}, \"repeat_visit_bytes\": {{{}}}, \
             \"first_visit_files\": [\n  {}\n]}}\n",
            esc(&meta.commit),
            esc(&meta.machine),
            self.rounds,
            rows.join(",\n  "),
            common.join(", "),
            self.rss_256(),
            meta.wasm.json(),
            meta.js.json(),
            meta.css.json(),
            meta.first_visit_bytes(),
            first_visit.join(", "),
            repeat.join(", "),
            files.join(",\n  ")
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
            "{\"mode\": \"closed\", \"server\": \"ceiling\", \"endpoint\": \"hello\", \"connections\": 64, \"rps\": 85000,",
            "\"rss_256_kib\": 38000",
            "\"wasm\": {\"raw\": 900000, \"gzip\": 360000, \"brotli\": 250000}",
            "\"js\": {\"raw\": 27000, \"gzip\": 7500, \"brotli\": 6500}",
            "\"css\": {\"raw\": 5000, \"gzip\": 1600, \"brotli\": 1300}",
            "\"first_visit_bytes\": 257800",
        ] {
            assert!(json.contains(part), "{part} in {json}");
        }
    }

    /// What `oha 1.16.0 --output-format json` printed for 60 requests of `/notes` at 20/s.
    const OHA: &str = include_str!("testdata/oha-1.16.json");
    /// What `openloop` printed for a refresh run.
    const OPENLOOP: &str = "{\"summary\": {\"successRate\": 0.990000, \"total\": 3.992095, \"requestsPerSec\": 100.198}, \
        \"latencyPercentiles\": {\"p50\": 0.001992000, \"p90\": 0.003426000, \"p99\": 0.007655000, \"p99.9\": 0.010957000, \"max\": 0.010957000}, \
        \"statusCodeDistribution\": {\"200\": 396, \"401\": 2}, \"errorDistribution\": {\"connection failed\": 2}, \
        \"tool\": \"openloop\", \"rate\": 100, \"requests\": 400}";
    /// The asset rows bench.sh wrote for Nuxt and a debug build of sessionflow.
    const FIRST_VISIT: &str = include_str!("testdata/first-visit.tsv");

    #[test]
    fn reads_oha_and_openloop_json() {
        let oha = OpenRun::from_json(&OHA.replace('\n', ""));
        assert_eq!(oha.tool, "oha");
        assert!((oha.rps - 20.280648844355373).abs() < 1e-9);
        assert!((oha.p50_ms - 5.846222).abs() < 1e-9, "{oha:?}");
        assert!(
            (oha.p99_ms - 9.841913).abs() < 1e-9,
            "not metrics.latency_ms.p99"
        );
        assert!((oha.p999_ms - 9.841913).abs() < 1e-9);
        assert_eq!((oha.requests, oha.non_2xx, oha.errors), (60, 0, 0));
        let ol = OpenRun::from_json(OPENLOOP);
        assert_eq!(ol.tool, "openloop");
        assert!((ol.p999_ms - 10.957).abs() < 1e-9);
        assert!((ol.p99_ms - 7.655).abs() < 1e-9);
        assert_eq!((ol.requests, ol.non_2xx, ol.errors), (400, 2, 2));
    }

    #[test]
    fn open_rows_take_medians_and_keep_the_rate_and_its_basis() {
        let oha = OHA.replace('\n', "");
        let slow = oha.replace("\"p99\": 0.009841913", "\"p99\": 0.020000000");
        let tsv = format!(
            "{TSV}open\t1\tnuxt\tssr_notes\t64\t70\t-\t170000\t{oha}\n\
             open\t1\tsessionflow-sqlite\tssr_notes\t64\t70\t-\t40000\t{oha}\n\
             open\t1\tsessionflow-sqlite\tssr_notes\t64\t400\t0.5\t41000\t{oha}\n\
             open\t2\tsessionflow-sqlite\tssr_notes\t64\t400\t0.5\t42000\t{slow}\n\
             open\t3\tsessionflow-sqlite\tssr_notes\t64\t400\t0.5\t40500\t{slow}\n\
             open\t1\tsessionflow-sqlite\trefresh\t64\t2400\t0.8\t50000\t{OPENLOOP}\n"
        );
        let r = Report::from_tsv(&tsv);
        assert_eq!(r.rows.len(), 4, "closed rows unchanged");
        assert_eq!(r.open.len(), 4);
        let half = r.open.iter().find(|o| o.rate_of_peak == Some(0.5)).unwrap();
        assert_eq!(half.rate, 400);
        assert!((half.p99_ms - 20.0).abs() < 1e-9, "median of three rounds");
        assert_eq!(half.rss_kib, 42000);
        assert_eq!(half.requests, 180);
        assert_eq!(r.common_rates().get("ssr_notes"), Some(&70));
        let json = r.json(&Meta {
            commit: "c".into(),
            machine: "m".into(),
            wasm: Sizes::default(),
            js: Sizes::default(),
            css: Sizes::default(),
        });
        for part in [
            "{\"mode\": \"closed\", \"server\": \"ceiling\"",
            "{\"mode\": \"open\", \"server\": \"nuxt\", \"endpoint\": \"ssr_notes\", \"connections\": 64, \"rate\": 70, \"rate_of_peak\": null,",
            "\"rate\": 400, \"rate_of_peak\": 0.5, \"rps\": 20, \"p50_ms\": 5.846, \"p99_ms\": 20.000, \"p999_ms\": 9.842,",
            "\"endpoint\": \"refresh\", \"connections\": 64, \"rate\": 2400, \"rate_of_peak\": 0.8,",
            "\"tool\": \"openloop\"",
            "\"common_rate\": {\"ssr_notes\": 70}",
        ] {
            assert!(json.contains(part), "{part} in {json}");
        }
        let table = r.table();
        assert!(
            table.contains("| sessionflow-sqlite | ssr_notes | 400 | 50 % | 20 | 5.85 | 20.00 | 9.84 | 0 | 0 | 180 | oha |"),
            "{table}"
        );
        assert!(
            table.contains("| nuxt | ssr_notes | 70 | common |"),
            "{table}"
        );
    }

    #[test]
    fn cache_control_as_served_decides_the_repeat_visit() {
        let a = |cc: &str| Asset {
            server: "s".into(),
            kind: "script".into(),
            path: "/a.js".into(),
            encoding: "br".into(),
            bytes: 1,
            status: 200,
            content_encoding: String::new(),
            cache_control: cc.into(),
            how: "browser".into(),
        };
        // What sessionflow (tower-http over hashed /pkg names) and Nitro (/_nuxt) send.
        assert!(a("public, max-age=31536000, immutable").cached_on_repeat());
        assert!(a("max-age=86400").cached_on_repeat());
        assert!(a("public, immutable").cached_on_repeat());
        assert!(
            !a("max-age=3600").cached_on_repeat(),
            "an hour: gone by tomorrow"
        );
        assert!(!a("no-store").cached_on_repeat());
        assert!(!a("no-cache, max-age=31536000").cached_on_repeat());
        assert!(!a("").cached_on_repeat(), "no header: not assumed");
    }

    #[test]
    fn first_visit_bytes_as_sent_per_server_and_encoding() {
        let r = Report::from_tsv(FIRST_VISIT);
        let v = r.visits();
        // Nitro sends its JavaScript uncompressed: br and gzip cost the same.
        assert_eq!(
            v["nuxt"],
            Visit {
                brotli: 10365 + 186538 + 16517 + 196 + 525,
                gzip: 10365 + 186538 + 16517 + 196 + 525,
                repeat: 0,
                files: 5,
            }
        );
        let ours = v["sessionflow-sqlite"];
        assert_eq!(ours.brotli, 19449 + 972 + 9780 + 1657861);
        assert_eq!(ours.gzip, 2911 + 1080 + 10519 + 1940772);
        assert_eq!(ours.repeat, 0, "the document is not the bundle");
        let json = r.json(&Meta {
            commit: "c".into(),
            machine: "m".into(),
            wasm: Sizes::default(),
            js: Sizes::default(),
            css: Sizes::default(),
        });
        assert!(
            json.contains("\"first_visit\": {\"nuxt\": {\"brotli\": 214141, \"gzip\": 214141}, \"sessionflow-sqlite\": {\"brotli\": 1688062, \"gzip\": 1955282}}"),
            "{json}"
        );
        assert!(
            json.contains("\"repeat_visit_bytes\": {\"nuxt\": 0, \"sessionflow-sqlite\": 0}"),
            "{json}"
        );
        assert!(json.contains("\"path\": \"/_nuxt/DkeF7hCN.js\", \"accept_encoding\": \"br\", \"bytes\": 16517, \"status\": 200, \"content_encoding\": \"\", \"cache_control\": \"public, max-age=31536000, immutable\", \"cached_on_repeat\": true, \"found_by\": \"browser\"}"), "{json}");
        let table = r.table();
        assert!(
            table.contains("| nuxt | 5 | 214141 | 214141 | 0 |"),
            "{table}"
        );
    }
}
