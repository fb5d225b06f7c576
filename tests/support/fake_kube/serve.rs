//! The in-memory API server on a loopback port, for a controller running as its own process
//! (the benchmark measures the real binary's memory, apart from this server's).

use std::convert::Infallible;
use std::net::SocketAddr;

use http::Request;
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::FakeKube;

impl FakeKube {
    /// Serves plain HTTP on a free loopback port; requests are recorded under `client`.
    pub async fn serve_http(&self, client: &str) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind API server");
        let addr = listener.local_addr().expect("API server address");
        let (server, client) = (self.clone(), client.to_owned());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let (server, client) = (server.clone(), client.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                        let (server, client) = (server.clone(), client.clone());
                        async move {
                            let (parts, body) = request.into_parts();
                            let bytes = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                            let request = Request::from_parts(parts, kube::client::Body::from(bytes.to_vec()));
                            Ok::<_, Infallible>(server.handle(&client, request).await)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        addr
    }

    /// A kubeconfig that points at `addr` without credentials.
    pub fn kubeconfig(addr: SocketAddr) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster: {{server: \"http://{addr}\"}}\ncontexts:\n- name: fake\n  context: {{cluster: fake, user: fake}}\ncurrent-context: fake\nusers:\n- name: fake\n  user: {{}}\n"
        )
    }
}
