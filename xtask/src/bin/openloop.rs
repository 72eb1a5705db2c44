//! An open-loop HTTP/1.1 load generator for the one case `oha` cannot do: a request that must
//! carry a never-used value (a refresh token) every time. `oha -Z`/`--urls-from-file` pick a
//! random line per request, with replacement, so a refresh run would send spent tokens (the
//! server then answers reuse, a different and cheaper path) — see docs/performance.md.
//!
//! Method, the same as `oha -q RATE --latency-correction` and wrk2: request `i` is due at
//! `start + i / RATE`; up to CONNS keep-alive connections take the next due request, wait for
//! its time, send it and read the whole answer; its latency is measured from when it was *due*,
//! not from when it was sent, so a server that stalls is charged for every request that queued
//! behind the stall (coordinated omission corrected). Request `i` carries line `i` of LINES in
//! its templated header; a run that would need more lines than there are stops with an error.
//!
//! ```text
//! openloop --rate 900 --warmup 3 --duration 20 --connections 64 \
//!   --method POST --lines tokens.txt --header 'Cookie: refresh_token={}' \
//!   http://127.0.0.1:3400/api/auth/refresh
//! ```
//!
//! Prints one JSON object with the fields of oha's `--output-format json` the bench reads
//! (`summary.requestsPerSec`, `summary.successRate`, `latencyPercentiles` in seconds,
//! `statusCodeDistribution`, `errorDistribution`), so one parser reads both tools. Only the
//! measured requests (after the warm-up ones, which follow the same schedule) are counted.

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    process::ExitCode,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

struct Opts {
    rate: f64,
    warmup: f64,
    duration: f64,
    connections: usize,
    method: String,
    headers: Vec<String>,
    lines: Vec<String>,
    addr: String,
    host: String,
    path: String,
}

fn usage() -> String {
    "usage: openloop --rate R [--warmup S] --duration S [--connections C] [--method M] \
     [--header 'Name: value with {}']... [--lines FILE] http://HOST:PORT/PATH"
        .into()
}

fn parse_args(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        rate: 0.0,
        warmup: 0.0,
        duration: 0.0,
        connections: 64,
        method: "GET".into(),
        headers: Vec::new(),
        lines: Vec::new(),
        addr: String::new(),
        host: String::new(),
        path: String::new(),
    };
    let mut url = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{a} needs a value"))
        };
        let num = |v: String| v.parse::<f64>().map_err(|e| format!("{a} {v}: {e}"));
        match a.as_str() {
            "--rate" => o.rate = num(val()?)?,
            "--warmup" => o.warmup = num(val()?)?,
            "--duration" => o.duration = num(val()?)?,
            "--connections" => o.connections = num(val()?)? as usize,
            "--method" => o.method = val()?,
            "--header" => o.headers.push(val()?),
            "--lines" => {
                let path = val()?;
                let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
                o.lines = text
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(str::to_owned)
                    .collect();
            }
            s if s.starts_with("http://") => url = Some(s.to_owned()),
            s => return Err(format!("unknown argument {s}\n{}", usage())),
        }
    }
    let url = url.ok_or_else(usage)?;
    let rest = url.trim_start_matches("http://");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    o.addr = authority.to_owned();
    o.host = authority.to_owned();
    o.path = if path.is_empty() {
        "/".into()
    } else {
        path.into()
    };
    if o.rate <= 0.0 || o.duration <= 0.0 || o.connections == 0 {
        return Err(usage());
    }
    Ok(o)
}

/// One measured answer: its index in the schedule, microseconds from due to fully read, status
/// (0: the connection failed).
type Sample = (usize, u64, u16);

/// Reads one HTTP/1.1 answer (Content-Length, chunked, or to the end) and returns its status and
/// whether the connection may be used again.
fn read_response(r: &mut impl BufRead) -> std::io::Result<(u16, bool)> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (mut length, mut chunked, mut keep) = (None, false, !line.starts_with("HTTP/1.0"));
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let Some((name, value)) = l.split_once(':') else {
            continue;
        };
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        match name.as_str() {
            "content-length" => length = value.parse::<u64>().ok(),
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            "connection" => keep = !value.eq_ignore_ascii_case("close"),
            _ => {}
        }
    }
    let mut sink = std::io::sink();
    if chunked {
        loop {
            line.clear();
            r.read_line(&mut line)?;
            let size = u64::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
                .map_err(|_| std::io::Error::other("bad chunk size"))?;
            if size == 0 {
                // trailers, then the empty line
                loop {
                    line.clear();
                    if r.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
                        break;
                    }
                }
                break;
            }
            std::io::copy(&mut r.by_ref().take(size), &mut sink)?;
            line.clear();
            r.read_line(&mut line)?;
        }
    } else if let Some(n) = length {
        std::io::copy(&mut r.by_ref().take(n), &mut sink)?;
    } else if status >= 200 && status != 204 && status != 304 {
        std::io::copy(r, &mut sink)?;
        keep = false;
    }
    Ok((status, keep))
}

fn worker(o: &Opts, start: Instant, next: &AtomicUsize, total: usize) -> Vec<Sample> {
    let interval = 1.0 / o.rate;
    let mut conn: Option<BufReader<TcpStream>> = None;
    let mut out = Vec::new();
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= total {
            return out;
        }
        let due = start + Duration::from_secs_f64(i as f64 * interval);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let mut req = format!("{} {} HTTP/1.1\r\nHost: {}\r\n", o.method, o.path, o.host);
        for h in &o.headers {
            req.push_str(&h.replace("{}", o.lines.get(i).map_or("", String::as_str)));
            req.push_str("\r\n");
        }
        if o.method != "GET" && o.method != "HEAD" {
            req.push_str("Content-Length: 0\r\n");
        }
        req.push_str("\r\n");
        let mut status = 0;
        for _attempt in 0..2 {
            if conn.is_none() {
                match TcpStream::connect(&o.addr) {
                    Ok(s) => {
                        let _ = s.set_nodelay(true);
                        conn = Some(BufReader::with_capacity(64 * 1024, s));
                    }
                    Err(_) => break,
                }
            }
            let Some(c) = conn.as_mut() else { break };
            let sent = c.get_mut().write_all(req.as_bytes());
            match sent.and_then(|()| read_response(c)) {
                Ok((s, keep)) => {
                    status = s;
                    if !keep {
                        conn = None;
                    }
                    break;
                }
                // A keep-alive connection the server closed meanwhile: one retry on a new one.
                Err(_) => conn = None,
            }
        }
        out.push((i, due.elapsed().as_micros() as u64, status));
    }
}

/// The value at quantile `q` of sorted microseconds, in seconds (nearest rank).
fn quantile(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64 / 1e6
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let o = match parse_args(&args) {
        Ok(o) => Arc::new(o),
        Err(e) => {
            eprintln!("openloop: {e}");
            return ExitCode::from(2);
        }
    };
    let warm = (o.rate * o.warmup).round() as usize;
    let measured = (o.rate * o.duration).round() as usize;
    let total = warm + measured;
    let templated = o.headers.iter().any(|h| h.contains("{}"));
    if templated && o.lines.len() < total {
        eprintln!(
            "openloop: {total} requests need {total} lines, {} given: seed more",
            o.lines.len()
        );
        return ExitCode::FAILURE;
    }
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now() + Duration::from_millis(50);
    let threads: Vec<_> = (0..o.connections)
        .map(|_| {
            let (o, next) = (o.clone(), next.clone());
            std::thread::spawn(move || worker(&o, start, &next, total))
        })
        .collect();
    let mut samples: Vec<Sample> = Vec::with_capacity(total);
    for t in threads {
        samples.extend(t.join().unwrap_or_default());
    }
    let end = start.elapsed().as_secs_f64();
    samples.retain(|s| s.0 >= warm);
    let mut lat: Vec<u64> = samples.iter().map(|s| s.1).collect();
    lat.sort_unstable();
    let mut codes: BTreeMap<u16, usize> = BTreeMap::new();
    for s in &samples {
        *codes.entry(s.2).or_default() += 1;
    }
    let failed = codes.remove(&0).unwrap_or(0);
    let ok = codes
        .iter()
        .filter(|(c, _)| (200..400).contains(*c))
        .map(|(_, n)| n)
        .sum::<usize>();
    // Measured requests over the time from the first one's due time to the end of the last.
    let span = (end - o.warmup).max(1e-9);
    let n = samples.len().max(1);
    let codes_json: Vec<String> = codes.iter().map(|(c, n)| format!("\"{c}\": {n}")).collect();
    let errors = if failed > 0 {
        format!("{{\"connection failed\": {failed}}}")
    } else {
        "{}".into()
    };
    println!(
        "{{\"summary\": {{\"successRate\": {:.6}, \"total\": {span:.6}, \"requestsPerSec\": {:.3}}}, \
         \"latencyPercentiles\": {{\"p50\": {:.9}, \"p90\": {:.9}, \"p99\": {:.9}, \"p99.9\": {:.9}, \"max\": {:.9}}}, \
         \"statusCodeDistribution\": {{{}}}, \"errorDistribution\": {errors}, \
         \"tool\": \"openloop\", \"rate\": {}, \"requests\": {}}}",
        ok as f64 / n as f64,
        samples.len() as f64 / span,
        quantile(&lat, 0.5),
        quantile(&lat, 0.9),
        quantile(&lat, 0.99),
        quantile(&lat, 0.999),
        quantile(&lat, 1.0),
        codes_json.join(", "),
        o.rate,
        samples.len(),
    );
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_chunked_and_sized_answers_on_one_connection() {
        let wire = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n3;x=1\r\nabc\r\n0\r\n\r\n\
HTTP/1.1 401 Unauthorized\r\ncontent-length: 4\r\n\r\nnope\
HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok";
        let mut r = BufReader::new(&wire[..]);
        assert_eq!(read_response(&mut r).unwrap(), (200, true));
        assert_eq!(read_response(&mut r).unwrap(), (401, true));
        assert_eq!(read_response(&mut r).unwrap(), (200, false));
        assert!(read_response(&mut r).is_err(), "nothing left");
    }

    #[test]
    fn nearest_rank_quantiles() {
        let v: Vec<u64> = (1..=1000).collect();
        assert_eq!(quantile(&v, 0.5), 500e-6);
        assert_eq!(quantile(&v, 0.99), 990e-6);
        assert_eq!(quantile(&v, 0.999), 999e-6);
        assert_eq!(quantile(&[], 0.5), 0.0);
    }

    #[test]
    fn arguments() {
        let a: Vec<String> = [
            "--rate",
            "100",
            "--duration",
            "2",
            "--header",
            "Cookie: t={}",
            "http://127.0.0.1:3400/api/auth/refresh",
        ]
        .map(String::from)
        .to_vec();
        let o = parse_args(&a).unwrap();
        assert_eq!(
            (o.addr.as_str(), o.path.as_str()),
            ("127.0.0.1:3400", "/api/auth/refresh")
        );
        assert_eq!(o.connections, 64);
        assert!(parse_args(&a[..2]).is_err());
    }
}
