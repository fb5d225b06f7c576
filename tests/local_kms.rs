//! Each test's local KMS server is its own: a test never finds another test's server on its
//! port and shares its keys (docs/testing.md, "A server of its own").

mod support;

use support::kms;
use support::manifests::REGION;
use support::moto::Moto;

#[tokio::test]
async fn a_server_that_cannot_bind_its_port_fails_instead_of_passing_for_the_one_there() {
    let first = Moto::start();
    let client = kms::client(&first.endpoint(), REGION).await;
    client.create_key().send().await.expect("CreateKey on the first server");

    // As when two tests are handed one port: the second server cannot bind it, while the first
    // answers there. Accepting that answer made two tests share one server.
    let second = Moto::start_on(first.port);
    let why = second.err().expect("no second server on a taken port");
    assert!(why.contains("in use"), "moto's own reason: {why}");

    assert_eq!(kms::key_ids(&client).await.len(), 1, "the first server is untouched");
}
