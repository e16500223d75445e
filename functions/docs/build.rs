//! Embeds `openapi.yaml` (the repository's contract) as JSON, so the function serves
//! exactly the document the tests check, without a YAML parser at run time.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let source = manifest.join("../../openapi.yaml");
    println!("cargo:rerun-if-changed={}", source.display());
    let document: serde_json::Value = serde_yaml::from_str(&std::fs::read_to_string(&source)?)?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?).join("openapi.json");
    std::fs::write(out, serde_json::to_string(&document)?)?;
    Ok(())
}
