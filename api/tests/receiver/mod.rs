//! A receiver of the fleet's requests (callbacks, `http` jobs) on the loopback:
//! keeps every request it gets and answers as told — 503 to the first few, as a
//! receiver that is briefly down would, then a fixed answer; it can echo a
//! request header back, and hold each request until the test lets it through.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};

use hmac::{Hmac, Mac};
use poem::{
    EndpointExt, Request, Response, Route, Server, http::StatusCode, listener::TcpAcceptor,
};
use serde_json::Value;
use sha2::Sha256;
use tokio::sync::Semaphore;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Post {
    /// Its method.
    pub method: String,
    /// Its `Mixdown-Signature` header.
    pub signature: String,
    /// Its `Mixdown-Delivery` header.
    pub delivery: String,
    /// Every header, names in lower case.
    pub headers: Vec<(String, String)>,
    /// Its body.
    pub body: Vec<u8>,
}

impl Post {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// The value of header `name` (lower case), if it came.
    pub fn header(&self, name: &str) -> Option<&str> {
        let found = self.headers.iter().find(|(n, _)| n == name);
        found.map(|(_, v)| v.as_str())
    }

    /// Whether a signature of the header is `v1=<hex HMAC-SHA256 of "<t>.<body>"
    /// under secret>`, `t=<t>` leading: `t=<t>,v1=<hex>[,v1=<hex>…]`.
    pub fn signed_with(&self, secret: &str) -> bool {
        let mut parts = self.signature.split(',');
        let Some(t) = parts.next().and_then(|p| p.strip_prefix("t=")) else {
            return false;
        };
        parts.filter_map(|p| p.strip_prefix("v1=")).any(|v1| {
            let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
            mac.update(format!("{t}.").as_bytes());
            mac.update(&self.body);
            hex::decode(v1).is_ok_and(|sig| mac.verify_slice(&sig).is_ok())
        })
    }
}

/// How a receiver answers.
#[derive(Debug, Clone)]
pub struct Answers {
    /// The first this many requests get 503.
    pub refuse: usize,
    /// The answer's status after those.
    pub status: StatusCode,
    /// Its headers.
    pub headers: Vec<(&'static str, String)>,
    /// Its body.
    pub body: Vec<u8>,
    /// A request header whose value comes back in the `x-echo` header and
    /// after the body, as a careless receiver might send it.
    pub echo: Option<&'static str>,
    /// Whether each request waits for [`Receiver::let_through`] before it is answered.
    pub held: bool,
}

impl Default for Answers {
    fn default() -> Self {
        Self {
            refuse: 0,
            status: StatusCode::NO_CONTENT,
            headers: Vec::new(),
            body: Vec::new(),
            echo: None,
            held: false,
        }
    }
}

/// A running receiver; stops when dropped.
pub struct Receiver {
    /// Where to send: `http://127.0.0.1:<port>/hook`.
    pub url: String,
    posts: Arc<Mutex<Vec<Post>>>,
    gate: Arc<Semaphore>,
    server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Listens on a free loopback port; the first `refuse` requests get 503, the others 204.
    pub async fn start(refuse: usize) -> Self {
        Self::answering(Answers {
            refuse,
            ..Answers::default()
        })
        .await
    }

    /// Listens on a free loopback port and answers as `answers` says.
    pub async fn answering(answers: Answers) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let posts = Arc::new(Mutex::new(Vec::new()));
        let gate = Arc::new(Semaphore::new(0));
        let refused = Arc::new(AtomicUsize::new(answers.refuse));
        let (kept, waiting) = (posts.clone(), gate.clone());
        let hook = poem::endpoint::make(move |req: Request| {
            let (kept, refused, gate, answers) = (
                kept.clone(),
                refused.clone(),
                waiting.clone(),
                answers.clone(),
            );
            async move {
                let post = received(req).await;
                let echoed = answers.echo.and_then(|n| post.header(n)).map(str::to_owned);
                kept.lock().unwrap().push(post);
                if answers.held {
                    gate.acquire().await.unwrap().forget();
                }
                let refuse =
                    refused.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
                if refuse.is_ok() {
                    return Response::builder()
                        .status(StatusCode::SERVICE_UNAVAILABLE)
                        .finish();
                }
                answer(&answers, echoed)
            }
        });
        let app = Route::new().at("/hook", hook).boxed();
        let acceptor = TcpAcceptor::from_tokio(listener).unwrap();
        let server = tokio::spawn(async move {
            Server::new_with_acceptor(acceptor).run(app).await.unwrap();
        });
        Self {
            url,
            posts,
            gate,
            server,
        }
    }

    /// Every request so far.
    pub fn posts(&self) -> Vec<Post> {
        self.posts.lock().unwrap().clone()
    }

    /// Lets `n` held requests (or later ones) be answered.
    pub fn let_through(&self, n: usize) {
        self.gate.add_permits(n);
    }

    /// Waits, at most 10 s, until `n` requests have come.
    pub async fn wait_for(&self, n: usize) {
        for _ in 0..1000 {
            if self.posts.lock().unwrap().len() >= n {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("{} requests came, not {n}", self.posts().len());
    }
}

async fn received(mut req: Request) -> Post {
    let header = |name: &str| {
        let value = req.headers().get(name).and_then(|v| v.to_str().ok());
        value.unwrap_or_default().to_owned()
    };
    let (signature, delivery) = (header("Mixdown-Signature"), header("Mixdown-Delivery"));
    let headers = req
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into(),
            )
        })
        .collect();
    let method = req.method().as_str().to_owned();
    let body = req.take_body().into_vec().await.unwrap();
    Post {
        method,
        signature,
        delivery,
        headers,
        body,
    }
}

fn answer(answers: &Answers, echoed: Option<String>) -> Response {
    let mut response = Response::builder().status(answers.status);
    for (name, value) in &answers.headers {
        response = response.header(*name, value.as_str());
    }
    let mut body = answers.body.clone();
    if let Some(value) = echoed {
        response = response.header("x-echo", value.as_str());
        body.extend_from_slice(format!("echo: {value}").as_bytes());
    }
    response.body(body)
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}
