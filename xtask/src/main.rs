//! `cargo xtask dev | serve | test | lint`: installs what is missing, then runs.
//!
//! Every install step is idempotent and checks first, so a warm machine pays seconds.

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
        Some("dev") => setup(true).and_then(|()| run("cargo", &["leptos", "watch"])),
        Some("serve") => setup(true).and_then(|()| run("cargo", &["leptos", "serve", "--release"])),
        Some("build") => setup(true).and_then(|()| run("cargo", &["leptos", "build", "--release"])),
        Some("test") => test(),
        Some("lint") => setup(false).and_then(|()| lint()),
        Some("bench") => bench(args.iter().any(|a| a == "--http")),
        Some("setup") => setup(true).and_then(|()| e2e_tools()),
        // What CI needs: no wasm-opt (tests use the debug build), the end-to-end tools.
        Some("setup-ci") => setup(false).and_then(|()| e2e_tools()),
        _ => {
            eprintln!(
                "usage: cargo xtask <dev|serve|build|test|lint|bench [--http]|setup|setup-ci>"
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

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
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

/// wasm32 target, cargo-leptos, wasm-bindgen-cli (at the locked version) and, for release
/// builds, wasm-opt built from source (never Debian's binaryen, never a downloaded binary).
fn setup(with_wasm_opt: bool) -> Result {
    step("checking the toolchain");
    let targets = output("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if !targets
        .lines()
        .any(|t| t.trim() == "wasm32-unknown-unknown")
    {
        step("installing the wasm32-unknown-unknown target");
        run("rustup", &["target", "add", "wasm32-unknown-unknown"])?;
    }
    let leptos = output("cargo", &["leptos", "--version"]).unwrap_or_default();
    if !leptos.contains(CARGO_LEPTOS) {
        step(&format!(
            "installing cargo-leptos {CARGO_LEPTOS} (slow the first time)"
        ));
        run(
            "cargo",
            &[
                "install",
                "cargo-leptos",
                "--version",
                CARGO_LEPTOS,
                "--locked",
            ],
        )?;
    }
    let wbg = locked_wasm_bindgen()?;
    let have = output(
        cargo_bin("wasm-bindgen").to_str().unwrap_or("wasm-bindgen"),
        &["--version"],
    )
    .unwrap_or_default();
    if !have.split_whitespace().any(|w| w == wbg) {
        step(&format!(
            "installing wasm-bindgen-cli {wbg} (matches Cargo.lock)"
        ));
        // Not --locked: its lock file pins a crate the registry no longer serves.
        run(
            "cargo",
            &["install", "wasm-bindgen-cli", "--version", &wbg, "--force"],
        )?;
    }
    if with_wasm_opt {
        let have = output(
            cargo_bin("wasm-opt").to_str().unwrap_or("wasm-opt"),
            &["--version"],
        )
        .unwrap_or_default();
        if !have.contains(&format!("version {WASM_OPT_MAJOR}")) {
            step("building wasm-opt from source (slow the first time)");
            run("cargo", &["install", "wasm-opt", "--locked"])?;
        }
    }
    Ok(())
}

/// Node packages (without Playwright's browser download) and Debian's Chromium.
fn e2e_tools() -> Result {
    step("checking the end-to-end tools");
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
    if !Path::new("end2end/node_modules/@playwright/test").exists() {
        step("installing Playwright (npm ci, no browser download)");
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
            "--all-targets",
            "--features",
            "sessionflow/ssr,app/ssr",
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
            "--target",
            "wasm32-unknown-unknown",
            "--features",
            "sessionflow/hydrate,app/hydrate",
            "--",
            "-D",
            "warnings",
        ],
    )
}

/// Every layer: unit and integration tests (SQLite; PostgreSQL too when `TEST_DATABASE_URL` is
/// set), then the browser tests against a freshly built site.
fn test() -> Result {
    setup(false)?;
    e2e_tools()?;
    step("unit and integration tests");
    run("cargo", &["test", "-p", "sessionflow", "--features", "ssr"])?;
    run("cargo", &["test", "-p", "app", "--features", "ssr"])?;
    run("cargo", &["test", "-p", "server"])?;
    step("building the site (cargo leptos build)");
    run("cargo", &["leptos", "build"])?;
    step("end-to-end tests (Playwright, Debian's Chromium)");
    let status = Command::new("npx")
        .args(["playwright", "test"])
        .current_dir("end2end")
        .status()
        .map_err(|e| format!("cannot run npx: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err("end-to-end tests failed".into())
    }
}

/// Criterion micro-benchmarks; with `--http`, also the release server under `wrk`
/// (`xtask/bench-http.sh`, the method of `../shared/peers/bench.sh`), for side-by-side numbers.
fn bench(http: bool) -> Result {
    step("criterion micro-benchmarks (cargo bench -p server)");
    run("cargo", &["bench", "-p", "server", "--bench", "auth"])?;
    if !http {
        return Ok(());
    }
    setup(true)?;
    step("release build of the server and the token seeder");
    run("cargo", &["leptos", "build", "--release"])?;
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
    step("wrk against the release server");
    run("bash", &["xtask/bench-http.sh"])
}
