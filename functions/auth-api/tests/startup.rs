//! The deployed binary refuses to start without a pepper source, and refuses the local-only
//! `PEPPER` inside Lambda, saying why (and never printing the pepper).
#![allow(clippy::unwrap_used)]

use std::process::Command;

fn start(env: &[(&str, &str)]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_auth-api"))
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stderr).into_owned()
        + &String::from_utf8_lossy(&output.stdout);
    (output.status.success(), text)
}

#[test]
fn refuses_to_start_without_a_pepper() {
    let (ok, output) = start(&[("TABLE_NAME", "t")]);
    assert!(!ok);
    assert!(output.contains("PEPPER_SECRET_ARN"), "{output}");
}

#[test]
fn refuses_the_local_pepper_inside_lambda() {
    let pepper = "a-local-pepper-that-is-long-enough-0123456789";
    let (ok, output) = start(&[
        ("TABLE_NAME", "t"),
        ("PEPPER", pepper),
        ("AWS_LAMBDA_FUNCTION_NAME", "auth"),
    ]);
    assert!(!ok);
    assert!(output.contains("PEPPER is for local runs only"), "{output}");
    assert!(!output.contains(pepper));
}
