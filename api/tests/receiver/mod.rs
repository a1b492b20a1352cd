//! A callback receiver on the loopback: keeps every POST it gets and answers 503 to
//! the first few, as a receiver that is briefly down would.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};

use hmac::{Hmac, Mac};
use poem::{EndpointExt, Request, Route, Server, http::StatusCode, listener::TcpAcceptor};
use serde_json::Value;
use sha2::Sha256;

/// One POST as received.
#[derive(Debug, Clone)]
pub struct Post {
    /// Its `Mixdown-Signature` header.
    pub signature: String,
    /// Its `Mixdown-Delivery` header.
    pub delivery: String,
    /// Its body.
    pub body: Vec<u8>,
}

impl Post {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// Whether the signature is `t=<t>,v1=<hex HMAC-SHA256 of "<t>.<body>" under secret>`.
    pub fn signed_with(&self, secret: &str) -> bool {
        let Some((t, v1)) = self
            .signature
            .strip_prefix("t=")
            .and_then(|rest| rest.split_once(",v1="))
        else {
            return false;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(&self.body);
        hex::decode(v1).is_ok_and(|sig| mac.verify_slice(&sig).is_ok())
    }
}

/// A running receiver; stops when dropped.
pub struct Receiver {
    /// Where to post: `http://127.0.0.1:<port>/hook`.
    pub url: String,
    posts: Arc<Mutex<Vec<Post>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Listens on a free loopback port; the first `refuse` posts get 503.
    pub async fn start(refuse: usize) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let posts = Arc::new(Mutex::new(Vec::new()));
        let refused = Arc::new(AtomicUsize::new(refuse));
        let kept = posts.clone();
        let hook = poem::endpoint::make(move |mut req: Request| {
            let (kept, refused) = (kept.clone(), refused.clone());
            async move {
                let header = |name: &str| {
                    let value = req.headers().get(name).and_then(|v| v.to_str().ok());
                    value.unwrap_or_default().to_owned()
                };
                let (signature, delivery) =
                    (header("Mixdown-Signature"), header("Mixdown-Delivery"));
                let body = req.take_body().into_vec().await.unwrap();
                kept.lock().unwrap().push(Post {
                    signature,
                    delivery,
                    body,
                });
                let refuse =
                    refused.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
                if refuse.is_ok() {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::NO_CONTENT
                }
            }
        });
        let app = Route::new().at("/hook", poem::post(hook)).boxed();
        let acceptor = TcpAcceptor::from_tokio(listener).unwrap();
        let server = tokio::spawn(async move {
            Server::new_with_acceptor(acceptor).run(app).await.unwrap();
        });
        Self { url, posts, server }
    }

    /// Every post so far.
    pub fn posts(&self) -> Vec<Post> {
        self.posts.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}
