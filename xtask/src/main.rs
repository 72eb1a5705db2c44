//! `cargo xtask dev | serve | test | lint`: installs what is missing, then runs.
//!
//! Every install step is idempotent and checks first, so a warm machine pays seconds.

mod bench_report;

use std::{
    env,
    path::{Path, PathBuf},
    process::{Command, ExitCode},
};

const CARGO_LEPTOS: &str = "0.3.10";
const WASM_OPT_MAJOR: &str = "116";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let root = project_root();
    env::set_current_dir(&root).expect("project root is readable");
    let result = match args.first().map(String::as_str) {
        // A debug build needs no wasm-opt (the slowest install of all).
        Some("dev") => {
            setup(false).and_then(|()| run("cargo", &["leptos", "watch", "--project", "app"]))
        }
        Some("serve") => setup(true).and_then(|()| {
            run(
                "cargo",
                &[
                    "leptos",
                    "serve",
                    "--release",
                    "--precompress",
                    "--project",
                    "app",
                ],
            )
        }),
        Some("build") => setup(true).and_then(|()| {
            run(
                "cargo",
                &[
                    "leptos",
                    "build",
                    "--release",
                    "--precompress",
                    "--project",
                    "app",
                ],
            )
        }),
        Some("test") => test(),
        Some("lint") => setup(false).and_then(|()| lint()),
        Some("bench") => bench(
            args.iter().any(|a| a == "--micro"),
            args.iter()
                .position(|a| a == "--report")
                .and_then(|i| args.get(i + 1))
                .map(String::as_str),
        ),
        Some("fuzz") => fuzz(seconds_arg(&args).unwrap_or(60)),
        Some("example") => setup(false)
            .and_then(|()| build_example())
            .and_then(|()| serve_example()),
        Some("deny") => deny(),
        Some("openapi") => run("cargo", &["build", "-p", "server"]).and_then(|()| {
            schemathesis(
                "target/debug/server",
                seconds_arg(&args).unwrap_or(OPENAPI_SECONDS),
            )
        }),
        Some("setup") => beside(|| setup(true), || chromium().and_then(|()| node_tools())),
        // What CI needs: no wasm-opt (tests use the debug build), the node tools. `.ci/run`
        // installs Chromium with its other Debian packages, at the same time as this.
        Some("setup-ci") => beside(|| setup(false), node_tools),
        _ => {
            eprintln!(
                "usage: cargo xtask <dev|serve|build|test|lint|deny|openapi [--seconds N]|fuzz [--seconds N]|example|bench [--micro|--report ROWS.tsv]|setup|setup-ci>"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result<T = ()> = std::result::Result<T, String>;

/// The workspace root. `cargo run` (the `cargo xtask` alias) sets `CARGO_MANIFEST_DIR` for the
/// process it starts, which is right even when the binary was built in another checkout sharing
/// this target directory (cargo reuses it: the path is not in its fingerprint); the path compiled
/// in is only the fallback for a binary started by hand.
fn project_root() -> PathBuf {
    env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .parent()
        .expect("xtask sits in the workspace")
        .to_path_buf()
}

fn step(what: &str) {
    eprintln!("\x1b[1m==> {what}\x1b[0m");
}

fn run(cmd: &str, args: &[&str]) -> Result {
    run_env(cmd, args, &[])
}

fn run_env(cmd: &str, args: &[&str], envs: &[(&str, &str)]) -> Result {
    eprintln!("    $ {cmd} {}", args.join(" "));
    let status = Command::new(cmd)
        .args(args)
        .envs(envs.iter().copied())
        .status()
        .map_err(|e| format!("cannot run {cmd}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{cmd} {}` failed ({status})", args.join(" ")))
    }
}

/// Standard output of a command, if it ran and succeeded.
fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn cargo_bin(name: &str) -> PathBuf {
    let home = env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from(".cargo"));
    home.join("bin").join(name)
}

/// The wasm-bindgen version Cargo.lock pins (the CLI must match it exactly).
fn locked_wasm_bindgen() -> Result<String> {
    let lock = std::fs::read_to_string("Cargo.lock").map_err(|e| format!("Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasm-bindgen\"" {
            if let Some(v) = lines.next().and_then(|l| l.strip_prefix("version = \"")) {
                return Ok(v.trim_end_matches('"').to_owned());
            }
        }
    }
    Err("wasm-bindgen is not in Cargo.lock".into())
}

/// Runs two independent set-up steps at the same time: the cargo installs keep both cores busy
/// while apt and npm wait on the network and the disk.
fn beside(a: impl FnOnce() -> Result, b: impl FnOnce() -> Result + Send) -> Result {
    std::thread::scope(|s| {
        let other = s.spawn(b);
        let first = a();
        let second = other
            .join()
            .unwrap_or_else(|_| Err("a set-up step panicked".into()));
        first.and(second)
    })
}

/// `cargo install` for our tools with a profile that uses both cores: the tools' own release
/// profiles ask for fat LTO and one codegen unit, which leaves one core idle for most of the
/// build (cargo-leptos: 15 min that way). The variables reach only this command.
fn install_tool(args: &[&str]) -> Result {
    install_at(args, "3")
}

/// [`install_tool`] at `opt_level`: the build tools (cargo-leptos, wasm-bindgen-cli) only move
/// files and rewrite one wasm, so `1` is fast enough at run time and compiles in far less time;
/// what the benchmarks or release builds lean on (oha, wasm-opt) keeps `3`.
fn install_at(args: &[&str], opt_level: &str) -> Result {
    run_env(
        "cargo",
        args,
        &[
            ("CARGO_PROFILE_RELEASE_LTO", "false"),
            ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16"),
            ("CARGO_PROFILE_RELEASE_DEBUG", "false"),
            ("CARGO_PROFILE_RELEASE_INCREMENTAL", "false"),
            ("CARGO_PROFILE_RELEASE_OPT_LEVEL", opt_level),
        ],
    )
}

/// wasm32 target, cargo-leptos, wasm-bindgen-cli (at the locked version) and, for release
/// builds, wasm-opt built from source (never Debian's binaryen, never a downloaded binary).
fn setup(with_wasm_opt: bool) -> Result {
    step("checking the toolchain");
    let targets = output("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    let need_target = !targets
        .lines()
        .any(|t| t.trim() == "wasm32-unknown-unknown");
    let need_leptos = !output("cargo", &["leptos", "--version"])
        .unwrap_or_default()
        .contains(CARGO_LEPTOS);
    let wbg = locked_wasm_bindgen()?;
    let need_wbg = !output(
        cargo_bin("wasm-bindgen").to_str().unwrap_or("wasm-bindgen"),
        &["--version"],
    )
    .unwrap_or_default()
    .split_whitespace()
    .any(|w| w == wbg);
    let need_wasm_opt = with_wasm_opt
        && !output(
            cargo_bin("wasm-opt").to_str().unwrap_or("wasm-opt"),
            &["--version"],
        )
        .unwrap_or_default()
        .contains(&format!("version {WASM_OPT_MAJOR}"));
    // One line before the slow part, so nobody wonders whether it hangs.
    let mut slow = Vec::new();
    if need_leptos {
        slow.push(format!("cargo-leptos {CARGO_LEPTOS} (~10 min)"));
    }
    if need_wbg {
        slow.push(format!("wasm-bindgen-cli {wbg} (~2 min)"));
    }
    if need_wasm_opt {
        slow.push("wasm-opt, built from source (~5 min)".into());
    }
    if !slow.is_empty() {
        eprintln!(
            "first run: compiling {} from source; times are for 2 cores, once per machine",
            slow.join(", ")
        );
    }
    if need_target {
        step("installing the wasm32-unknown-unknown target");
        run("rustup", &["target", "add", "wasm32-unknown-unknown"])?;
    }
    if need_leptos {
        step(&format!("installing cargo-leptos {CARGO_LEPTOS}"));
        install_at(
            &[
                "install",
                "cargo-leptos",
                "--version",
                CARGO_LEPTOS,
                "--locked",
            ],
            "1",
        )?;
    }
    if need_wbg {
        step(&format!(
            "installing wasm-bindgen-cli {wbg} (matches Cargo.lock)"
        ));
        // Not --locked: its lock file pins a crate the registry no longer serves.
        install_at(
            &["install", "wasm-bindgen-cli", "--version", &wbg, "--force"],
            "1",
        )?;
    }
    if need_wasm_opt {
        step("building wasm-opt from source");
        install_tool(&["install", "wasm-opt", "--locked"])?;
    }
    Ok(())
}

/// Debian's Chromium, which the end-to-end tests drive.
fn chromium() -> Result {
    if !Path::new("/usr/bin/chromium").exists() {
        let root = output("id", &["-u"]).is_some_and(|u| u.trim() == "0");
        if !root {
            return Err("Chromium is missing: install Debian's `chromium` package (apt-get install chromium)".into());
        }
        step("installing Debian's chromium");
        run("apt-get", &["update"])?;
        run_env(
            "apt-get",
            &["install", "-y", "chromium"],
            &[("DEBIAN_FRONTEND", "noninteractive")],
        )?;
    }
    Ok(())
}

/// The end-to-end tests' node packages (without Playwright's browser download).
fn node_tools() -> Result {
    // npm writes node_modules/.package-lock.json on every install: older than the lock file (a
    // dependency was added since, say the SMTP receiver), or missing, means install again.
    let modified = |p: &str| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let installed = modified("end2end/node_modules/.package-lock.json");
    let stale = match (installed, modified("end2end/package-lock.json")) {
        (Some(installed), Some(lock)) => installed < lock,
        _ => true,
    };
    if stale || !Path::new("end2end/node_modules/@playwright/test").exists() {
        step("installing the end-to-end tools (npm ci, no browser download)");
        let status = Command::new("npm")
            .arg("ci")
            .current_dir("end2end")
            .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
            .status()
            .map_err(|e| format!("cannot run npm: {e}"))?;
        if !status.success() {
            return Err("npm ci failed in end2end/".into());
        }
    }
    Ok(())
}

fn lint() -> Result {
    step("rustfmt");
    run("cargo", &["fmt", "--all", "--check"])?;
    step("clippy (ssr)");
    run(
        "cargo",
        &[
            "clippy",
            "-p",
            "sessionflow",
            "-p",
            "app",
            "-p",
            "server",
            "-p",
            "xtask",
            "-p",
            "minimal",
            "--all-targets",
            "--features",
            "sessionflow/ssr,app/ssr,minimal/ssr",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    step("clippy (hydrate, wasm32)");
    run(
        "cargo",
        &[
            "clippy",
            "-p",
            "sessionflow",
            "-p",
            "app",
            "-p",
            "minimal",
            "--target",
            "wasm32-unknown-unknown",
            "--features",
            "sessionflow/hydrate,app/hydrate,minimal/hydrate",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    step("cargo doc (the engine as docs.rs shows it, both halves; each half alone)");
    // The crate page links to both halves, so only the combined build resolves every link.
    for (features, flags) in [
        ("ssr,hydrate", "-D warnings"),
        ("ssr", "-D warnings -A rustdoc::broken-intra-doc-links"),
        ("hydrate", "-D warnings -A rustdoc::broken-intra-doc-links"),
    ] {
        run_env(
            "cargo",
            &[
                "doc",
                "-p",
                "sessionflow",
                "--no-deps",
                "--features",
                features,
            ],
            &[("RUSTDOCFLAGS", flags)],
        )?;
    }
    step("cargo package (the engine builds on its own, as it would be published)");
    run("cargo", &["package", "-p", "sessionflow", "--allow-dirty"])
}

/// Every layer: unit and integration tests (SQLite; PostgreSQL too when `TEST_DATABASE_URL` is
/// set), then the browser tests against a freshly built site.
fn test() -> Result {
    beside(|| setup(false), || chromium().and_then(|()| node_tools()))?;
    step("unit and integration tests");
    run("cargo", &["test", "-p", "sessionflow", "--features", "ssr"])?;
    // The browser half's doc examples (the hook policies) compile natively too.
    run(
        "cargo",
        &[
            "test",
            "-p",
            "sessionflow",
            "--features",
            "hydrate",
            "--doc",
        ],
    )?;
    run("cargo", &["test", "-p", "app", "--features", "ssr"])?;
    run("cargo", &["test", "-p", "server"])?;
    run("cargo", &["test", "-p", "minimal", "--features", "ssr"])?;
    step("building the sites (cargo leptos build: the notes app and examples/minimal)");
    run("cargo", &["leptos", "build"])?;
    build_example()?;
    step("end-to-end tests (Playwright, Debian's Chromium)");
    let status = Command::new("npx")
        .args(["playwright", "test"])
        .current_dir("end2end")
        .status()
        .map_err(|e| format!("cannot run npx: {e}"))?;
    if !status.success() {
        return Err("end-to-end tests failed".into());
    }
    // The server `cargo leptos build` just built; two minutes in all.
    schemathesis("target/debug/server", OPENAPI_SECONDS)
}

/// The conformance step's time budget in `cargo xtask test` (schemathesis's `--max-time`).
const OPENAPI_SECONDS: u64 = 120;

/// `cargo xtask bench`: every server in one run on this machine (`xtask/bench.sh`: the ceiling,
/// the Express and Nuxt peers, sessionflow on SQLite and on PostgreSQL when one is configured),
/// then the table and `target/bench/<time>.json`. `--micro`: the criterion micro-benchmarks.
fn bench(micro: bool, report: Option<&str>) -> Result {
    if micro {
        step("criterion micro-benchmarks (cargo bench -p server)");
        return run("cargo", &["bench", "-p", "server"]);
    }
    // `--report ROWS.tsv`: the table and JSON of rows already measured (a narrowed
    // `bash xtask/bench.sh` run with BENCH_ROWS=…), written beside them.
    if let Some(rows_path) = report {
        let rows = std::fs::read_to_string(rows_path).map_err(|e| format!("{rows_path}: {e}"))?;
        let report = bench_report::Report::from_tsv(&rows);
        let json_path = format!("{}.json", rows_path.trim_end_matches(".tsv"));
        std::fs::write(&json_path, report.json(&bench_meta()))
            .map_err(|e| format!("{json_path}: {e}"))?;
        println!("{}", report.table());
        eprintln!("written: {json_path}");
        return Ok(());
    }
    setup(true)?;
    bench_tools()?;
    step("release builds: the site (server + wasm) and the token seeder");
    run("cargo", &["leptos", "build", "--release", "--precompress"])?;
    run(
        "cargo",
        &[
            "build",
            "--release",
            "-p",
            "server",
            "--example",
            "seed_tokens",
        ],
    )?;
    std::fs::create_dir_all("target/bench").map_err(|e| format!("target/bench: {e}"))?;
    let stamp = output("date", &["-u", "+%Y%m%dT%H%M%SZ"])
        .unwrap_or_default()
        .trim()
        .to_owned();
    let rows_path = format!("target/bench/{stamp}.tsv");
    run(
        "cargo",
        &["build", "--release", "-p", "xtask", "--bin", "openloop"],
    )?;
    let openloop = env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| PathBuf::from("target"), PathBuf::from)
        .join("release/openloop");
    step("wrk, oha and openloop against every server, then the first visit (xtask/bench.sh)");
    run_env(
        "bash",
        &["xtask/bench.sh"],
        &[
            ("BENCH_ROWS", &rows_path),
            ("OPENLOOP", &openloop.to_string_lossy()),
        ],
    )?;
    let rows = std::fs::read_to_string(&rows_path).map_err(|e| format!("{rows_path}: {e}"))?;
    let report = bench_report::Report::from_tsv(&rows);
    let json_path = format!("target/bench/{stamp}.json");
    std::fs::write(&json_path, report.json(&bench_meta()))
        .map_err(|e| format!("{json_path}: {e}"))?;
    println!("{}", report.table());
    eprintln!("written: {json_path}");
    Ok(())
}

/// The oha the bench's open-loop phase uses (`-q RATE --latency-correction`), pinned.
const OHA: &str = "1.16.0";

/// The bench's load tools: Debian's wrk (closed loop), oha from crates.io at [`OHA`] (open
/// loop), and for the first-visit bytes Debian's Chromium and the end-to-end suite's Playwright.
fn bench_tools() -> Result {
    // `wrk -v` exits 1 after its banner: only a failure to start says it is missing.
    if Command::new("wrk").arg("-v").output().is_err() {
        step("installing Debian's wrk");
        run("apt-get", &["update"])?;
        run_env(
            "apt-get",
            &["install", "-y", "wrk"],
            &[("DEBIAN_FRONTEND", "noninteractive")],
        )?;
    }
    let oha = cargo_bin("oha");
    let installed = output(oha.to_str().unwrap_or("oha"), &["--version"]).unwrap_or_default();
    if !installed.contains(OHA) {
        step(&format!(
            "installing oha {OHA} (a few minutes the first time)"
        ));
        install_tool(&["install", "oha", "--locked", "--version", OHA, "--force"])?;
    }
    chromium().and_then(|()| node_tools())
}

/// The commit, the machine, the bundle sizes.
fn bench_meta() -> bench_report::Meta {
    // As the server sends them: the precompressed files `--precompress` made beside each one.
    let size = |path: &str| -> bench_report::Sizes {
        let len = |p: &str| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        bench_report::Sizes {
            raw: len(path),
            gzip: len(&format!("{path}.gz")),
            brotli: len(&format!("{path}.br")),
        }
    };
    let mut commit = output("git", &["rev-parse", "--short", "HEAD"])
        .unwrap_or_default()
        .trim()
        .to_owned();
    if output("git", &["status", "--porcelain"]).is_some_and(|s| !s.trim().is_empty()) {
        commit.push_str("-dirty");
    }
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown cpu".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    bench_report::Meta {
        commit,
        machine: format!("{cores} × {cpu}"),
        wasm: size(&bundle_file("wasm")),
        js: size(&bundle_file("js")),
        css: size(&bundle_file("css")),
    }
}

/// The bundle's file with this extension (`app.<hash>.wasm` since names are content-hashed).
fn bundle_file(ext: &str) -> String {
    std::fs::read_dir("target/site/pkg")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.extension().is_some_and(|x| x == ext)
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("app."))
        })
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| format!("target/site/pkg/app.{ext}"))
}

/// `--seconds N` from the arguments.
fn seconds_arg(args: &[String]) -> Option<u64> {
    let at = args.iter().position(|a| a == "--seconds")?;
    args.get(at + 1)?.parse().ok()
}

/// Installs a cargo subcommand when it is missing.
fn cargo_tool(bin: &str, krate: &str) -> Result {
    if cargo_bin(bin).exists() {
        return Ok(());
    }
    step(&format!(
        "installing {krate} (a few minutes the first time)"
    ));
    install_tool(&["install", krate, "--locked"])
}

/// `cargo deny`: licences, duplicate majors (reported), sources; advisories when the RustSec
/// database can be fetched (or is already on this machine).
fn deny() -> Result {
    cargo_tool("cargo-deny", "cargo-deny")?;
    // cargo-deny reads the metadata of every platform's crates; builds here download only
    // this platform's, so a fresh machine lacks some (core-foundation, say) and --offline fails.
    step("cargo fetch (every platform's crates, from the registry)");
    run("cargo", &["fetch", "--locked"])?;
    step("cargo deny: licences, bans, sources");
    run(
        "cargo",
        &["deny", "--offline", "check", "licenses", "bans", "sources"],
    )?;
    step("cargo deny: advisories");
    if run("cargo", &["deny", "check", "advisories"]).is_ok() {
        return Ok(());
    }
    let home = env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env::var("HOME").unwrap_or_default()).join(".cargo"));
    // A failed fetch leaves `db.lock` behind: only a database directory counts.
    let have_db = std::fs::read_dir(home.join("advisory-dbs"))
        .map(|d| d.flatten().any(|e| e.path().is_dir()))
        .unwrap_or(false);
    if have_db {
        run("cargo", &["deny", "--offline", "check", "advisories"])
    } else {
        eprintln!(
            "    the RustSec advisory database could not be fetched (no route to github.com): \
             advisories not checked"
        );
        Ok(())
    }
}

/// Fuzzing, bounded in time: each cargo-fuzz target for `seconds`, then schemathesis against
/// the OpenAPI description of a freshly started debug server.
fn fuzz(seconds: u64) -> Result {
    cargo_tool("cargo-fuzz", "cargo-fuzz")?;
    let target_dir = PathBuf::from("target").join("fuzz");
    let target_dir = target_dir.to_str().unwrap_or("target/fuzz").to_owned();
    let budget = format!("-max_total_time={seconds}");
    for target in ["access_tokens", "inputs"] {
        step(&format!("cargo fuzz run {target} for {seconds} s"));
        // cargo-fuzz needs nightly flags; the stable compiler accepts them under bootstrap.
        run_env(
            "cargo",
            &[
                "fuzz",
                "run",
                "--fuzz-dir",
                "xtask/fuzz",
                "--target-dir",
                &target_dir,
                target,
                "--",
                &budget,
            ],
            &[("RUSTC_BOOTSTRAP", "1")],
        )?;
    }
    step("building the server (debug)");
    run("cargo", &["build", "-p", "server"])?;
    schemathesis("target/debug/server", seconds)
}

/// The schemathesis release the conformance step runs (pip, in `target/schemathesis-venv`).
const SCHEMATHESIS: &str = "4.32.5";

fn schemathesis_tool() -> Result<PathBuf> {
    // The venv's scripts name their interpreter by absolute path: under the target dir's real
    // path they stay valid for every clone that shares it (.ci/run links `target` to a cache).
    let target = std::fs::canonicalize("target").unwrap_or_else(|_| PathBuf::from("target"));
    let venv = target.join("schemathesis-venv");
    let st = venv.join("bin").join("schemathesis");
    let installed = output(st.to_str().unwrap_or_default(), &["--version"]).unwrap_or_default();
    if !installed.contains(SCHEMATHESIS) {
        step(&format!(
            "installing schemathesis {SCHEMATHESIS} (pip, in target/schemathesis-venv; ~30 s)"
        ));
        // --clear: a venv that no longer runs (made under another path or python) is rebuilt
        // whole; venv over it would keep its old scripts.
        run(
            "python3",
            &["-m", "venv", "--clear", venv.to_str().unwrap_or_default()],
        )?;
        let pip = venv.join("bin").join("pip");
        run(
            pip.to_str().unwrap_or("pip"),
            &["install", "-q", &format!("schemathesis=={SCHEMATHESIS}")],
        )?;
    }
    Ok(st)
}

/// OpenAPI conformance: schemathesis with every check (`--checks all`) over the examples,
/// coverage and fuzzing phases, signed in, against `server` (a debug build) on a fresh SQLite
/// file, for about `seconds` in all. `xtask/schemathesis.toml` says which non-2xx answers to
/// schema-valid requests are right, and why. Any failure or server error fails the step.
fn schemathesis(server: &str, seconds: u64) -> Result {
    let st = schemathesis_tool()?;
    let st = st.to_str().unwrap_or_default().to_owned();
    let server = std::fs::canonicalize(server).map_err(|e| format!("{server}: {e}"))?;
    let config = std::fs::canonicalize("xtask/schemathesis.toml")
        .map_err(|e| format!("xtask/schemathesis.toml: {e}"))?;
    let config = config.to_str().unwrap_or_default();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port();
    let base = format!("http://127.0.0.1:{port}");
    // The server runs in a scratch directory: the development outbox writes there.
    let data = std::env::temp_dir().join(format!("sessionflow-openapi-{port}"));
    std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
    let mut server = Command::new(&server)
        .current_dir(&data)
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", "sqlite://openapi.db?mode=rwc")
        .env("JWT_SECRET", "schemathesis-only-secret-0123456789abcdef")
        // Limits would answer most generated calls 429 and leave the logic behind them untested.
        .env("AUTH_RATE_LIMIT_PER_ADDRESS", "1000000/1m")
        .env("AUTH_RATE_LIMIT_PER_ACCOUNT", "1000000/1m")
        .env("RECOVERY_RATE_LIMIT_PER_EMAIL", "1000000/1m")
        .env("RUST_LOG", "warn")
        .spawn()
        .map_err(|e| format!("cannot start the server: {e}"))?;
    let result = (|| {
        wait_until_up(&base)?;
        let schema = format!("{base}/api/openapi.json");
        // Signing out (one session or all) revokes the token the other operations use: those
        // run last, on their own, with a token of their own.
        let main = seconds.saturating_sub(seconds / 5).max(10).to_string();
        let rest = (seconds / 5).max(10).to_string();
        for (what, filter, time, email) in [
            (
                "every operation but sign-out",
                "--exclude-path-regex",
                &main,
                "openapi-1@example.com",
            ),
            (
                "sign-out",
                "--include-path-regex",
                &rest,
                "openapi-2@example.com",
            ),
        ] {
            let token = access_token(&base, email)?;
            step(&format!(
                "schemathesis --checks all: {what}, about {time} s"
            ));
            let header = format!("Authorization: Bearer {token}");
            run(
                &st,
                &[
                    "--config-file",
                    config,
                    "run",
                    &schema,
                    "--checks",
                    "all",
                    "--phases",
                    "examples,coverage,fuzzing",
                    "-H",
                    &header,
                    "--max-time",
                    time,
                    filter,
                    "logout",
                ],
            )?;
        }
        Ok(())
    })();
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&data);
    result
}

fn wait_until_up(base: &str) -> Result {
    for _ in 0..100 {
        if output("curl", &["-sf", &format!("{base}/healthz")]).is_some() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    Err(format!("the server at {base} did not come up"))
}

/// Registers an account and returns its access token.
fn access_token(base: &str, email: &str) -> Result<String> {
    let body =
        format!(r#"{{"email":"{email}","password":"schemathesis-password","transport":"body"}}"#);
    let out = output(
        "curl",
        &[
            "-sf",
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
            "-d",
            &body,
            &format!("{base}/api/auth/register"),
        ],
    )
    .ok_or("registering the fuzzing account failed")?;
    let token = out
        .split(r#""access_token":""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .ok_or("no access token in the answer")?;
    Ok(token.to_owned())
}

/// Where the example's site (its wasm and JS) is written.
const EXAMPLE_SITE: &str = "target/site-minimal";

/// Builds `examples/minimal` the way cargo-leptos builds an app (it is not a cargo-leptos
/// project of this workspace: a second one would make plain `cargo leptos watch` ask which):
/// the wasm with the hydrate feature (in cargo-leptos's front target dir, sharing its
/// artifacts), wasm-bindgen into `target/site-minimal/pkg/app.{js,wasm}`, the server with ssr.
fn build_example() -> Result {
    step("building examples/minimal (wasm, then server)");
    run(
        "cargo",
        &[
            "build",
            "-p",
            "minimal",
            "--lib",
            "--target-dir",
            "target/front",
            "--target",
            "wasm32-unknown-unknown",
            "--no-default-features",
            "--features",
            "hydrate",
        ],
    )?;
    let pkg = format!("{EXAMPLE_SITE}/pkg");
    run(
        cargo_bin("wasm-bindgen").to_str().unwrap_or("wasm-bindgen"),
        &[
            "target/front/wasm32-unknown-unknown/debug/minimal.wasm",
            "--target",
            "web",
            "--no-typescript",
            "--out-dir",
            &pkg,
            "--out-name",
            "app",
        ],
    )?;
    // Leptos asks for `app.wasm` when the output name is fixed at compile time (.cargo/config).
    std::fs::rename(format!("{pkg}/app_bg.wasm"), format!("{pkg}/app.wasm"))
        .map_err(|e| format!("{pkg}/app_bg.wasm: {e}"))?;
    run(
        "cargo",
        &[
            "build",
            "-p",
            "minimal",
            "--bin",
            "minimal",
            "--no-default-features",
            "--features",
            "ssr",
        ],
    )
}

/// Serves the built example on http://127.0.0.1:3002.
fn serve_example() -> Result {
    step("examples/minimal on http://127.0.0.1:3002 (Ctrl-C stops it)");
    run_env(
        "target/debug/minimal",
        &[],
        &[
            ("LEPTOS_SITE_ADDR", "127.0.0.1:3002"),
            ("LEPTOS_SITE_ROOT", EXAMPLE_SITE),
            ("LEPTOS_SITE_PKG_DIR", "pkg"),
            ("LEPTOS_OUTPUT_NAME", "app"),
        ],
    )
}
