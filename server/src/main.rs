//! The `purger` binary.

use clap::Parser;

use server::cli::Cli;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    server::cli::run(Cli::parse()).await
}
