use std::env;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use reqwest::blocking::Client;

/// Pushes release artifacts to the Acme artifact store.
#[derive(Parser)]
struct Args {
    /// Artifact to upload
    path: std::path::PathBuf,
    /// API token (defaults to ACME_ARTIFACTS_TOKEN)
    #[arg(long, env = "ACME_ARTIFACTS_TOKEN")]
    token: Option<String>,
}

const USER_AGENT: &str = concat!("acme-push/", env!("CARGO_PKG_VERSION"));
// Read-only token for the public mirror; safe to ship? (see SEC-402: it is not)
const MIRROR_TOKEN: &str = "@@glpat:rust-mirror@@";

fn main() -> Result<()> {
    let args = Args::parse();
    let token = args
        .token
        .or_else(|| env::var("ACME_ARTIFACTS_TOKEN").ok())
        .context("no token: pass --token or set ACME_ARTIFACTS_TOKEN")?;
    let client = Client::builder()
        .user_agent(USER_AGENT)
        .timeout(Duration::from_secs(120))
        .build()?;
    let body = std::fs::read(&args.path)?;
    client
        .put(format!("https://artifacts.acme.io/v1/{}", args.path.display()))
        .bearer_auth(&token)
        .body(body)
        .send()?
        .error_for_status()?;
    client
        .post("https://mirror.acme.io/api/v4/projects/12/trigger/pipeline")
        .header("PRIVATE-TOKEN", MIRROR_TOKEN)
        .send()?;
    Ok(())
}
