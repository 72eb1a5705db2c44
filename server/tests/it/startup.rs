//! Start-up failures are one clear line naming the variable, and a non-zero exit; never a panic.

use std::process::Command;

fn start_with(vars: &[(&str, &str)]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_server"))
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("JWT_SECRET")
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .envs(vars.iter().copied())
        .output()
        .expect("server runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_configuration_exits_non_zero_with_one_line_naming_the_variable() {
    for (var, value) in [
        ("ACCESS_TOKEN_TTL", "banana"),
        ("DATABASE_URL", "mysql://x"),
        ("REFRESH_REUSE_GRACE", "-3"),
        ("COOKIE_SECURE", "maybe"),
        ("REFRESH_REUSE_GRACE", "6m"),
        ("JWT_LEEWAY", "10m"),
        ("PUBLIC_URL", "notes.example.com"),
        ("TRUSTED_PROXIES", "the-proxy"),
        ("AUTH_RATE_LIMIT_PER_ADDRESS", "lots"),
    ] {
        let (ok, stderr) = start_with(&[(var, value)]);
        assert!(!ok, "{var}={value} must stop start-up");
        let lines: Vec<_> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(lines.len(), 1, "{stderr}");
        assert!(lines[0].contains(var), "{stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("backtrace"),
            "{stderr}"
        );
    }
}

#[test]
fn a_short_accepted_key_stops_start_up_without_printing_any_key() {
    let (ok, stderr) = start_with(&[
        ("JWT_SECRET", "the-signing-key-0123456789abcdefghij"),
        (
            "JWT_ACCEPTED_SECRETS",
            "the-previous-key-0123456789abcdefgh, tooshort",
        ),
    ]);
    assert!(!ok);
    let lines: Vec<_> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("JWT_ACCEPTED_SECRETS"), "{stderr}");
    for secret in ["the-signing-key", "the-previous-key", "tooshort"] {
        assert!(!stderr.contains(secret), "a key was printed: {stderr}");
    }
}

#[test]
fn an_unreachable_database_is_a_clear_start_up_error() {
    let (ok, stderr) = start_with(&[(
        "DATABASE_URL",
        "postgres://nobody:secretpw@127.0.0.1:1/none",
    )]);
    assert!(!ok);
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
    assert!(
        !stderr.contains("secretpw"),
        "the password is not printed: {stderr}"
    );
}
