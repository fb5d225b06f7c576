//! The test proxy as a program, for `just demo`: it forwards to the local AWS server (moto) and
//! translates CloudWatch's Smithy RPC v2 CBOR, which moto does not parse, to the JSON protocol it
//! does (docs/testing.md). Not part of the shipped binary.
//!
//!     cargo run --example local_aws_proxy -- <moto port>
//!
//! Prints its endpoint on the first line, then runs until killed.

#[allow(dead_code)]
#[path = "../tests/support/cbor.rs"]
mod cbor;
#[allow(dead_code)]
#[path = "../tests/support/proxy.rs"]
mod proxy;
#[allow(dead_code)]
#[path = "../tests/support/rotation_periods.rs"]
mod rotation_periods;

use std::io::Write;

#[tokio::main]
async fn main() {
    let Some(port) = std::env::args().nth(1).and_then(|p| p.parse::<u16>().ok()) else {
        eprintln!("usage: local_aws_proxy <port of the local AWS server>");
        std::process::exit(2);
    };
    let proxy = proxy::FaultProxy::start(port).await;
    println!("{}", proxy.endpoint());
    let _ = std::io::stdout().flush();
    std::future::pending::<()>().await;
}
