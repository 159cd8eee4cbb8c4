//! Push a bundle directory, list its versions, resolve a constraint and pull it back.
//!
//! ```sh
//! cargo run -p pacto-oci --example push_pull -- examples/bundles/payments-1.0.0 127.0.0.1:5000/demo/payments
//! cargo run -p pacto-oci --example push_pull -- examples/bundles/payments-1.0.0 oci-layout:/tmp/bundles
//! ```
#![allow(clippy::print_stdout, reason = "an example prints")]

use pacto_oci::{Bundle, Client, ResolveMode};
use std::path::Path;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(repository)) = (args.next(), args.next()) else {
        return Err("usage: push_pull BUNDLE_DIR REPOSITORY".into());
    };
    // Credentials, CA file, cache directory, plain-http hosts: from PACTO_* as the CLI does.
    let client = Client::from_env()?;
    let bundle = Bundle::from_dir(Path::new(&dir))?;
    let pushed = client.push(&repository, &bundle, false).await?;
    println!("pushed {} ({})", pushed.reference, pushed.status.as_str());
    println!(
        "versions: {}",
        client.versions(&repository).await?.join(" ")
    );
    let constraint = format!("~{}", bundle.version());
    let resolved = client
        .pull(&repository, &constraint, ResolveMode::RemoteAllowed)
        .await?;
    println!(
        "resolved {constraint} to {} {}: {} files",
        resolved.reference,
        resolved.digest,
        resolved.bundle.files().len()
    );
    assert_eq!(
        resolved.bundle.files(),
        bundle.files(),
        "pulled what was pushed"
    );
    Ok(())
}
