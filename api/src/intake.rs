//! Single jobs accepted together: what concurrent requests submit while a
//! write is in flight is recorded in one transaction (one statement, one
//! commit) and pushed in one call, and each request is answered once its
//! own row is committed. A commit per request would cap a busy API at the
//! rate the database flushes its log, one request per flush.

use std::sync::{Arc, OnceLock};

use futures::future::join_all;
use mixdown_jobs::{
    Stores,
    db::{Inserted, StoreError},
    model::{Job, NewJob},
};
use tokio::sync::{Mutex, mpsc, oneshot};

/// Most jobs recorded in one write.
const MAX_GROUP: usize = 256;
/// Writes in flight at once: while one commits, the next group gathers and
/// can go out, and the commits of both may share one flush of the log.
const WRITERS: usize = 4;

/// A job waiting to be recorded, and where its answer goes.
struct Pending {
    new: NewJob,
    answer: oneshot::Sender<Result<Inserted, StoreError>>,
}

/// Records single jobs in groups; clones share the writers, which start
/// with the first job and stop once every clone is dropped.
#[derive(Clone)]
pub(crate) struct Intake {
    stores: Stores,
    sender: Arc<OnceLock<mpsc::Sender<Pending>>>,
}

impl std::fmt::Debug for Intake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Intake")
    }
}

impl Intake {
    /// Groups of jobs recorded in `stores`.
    pub(crate) fn new(stores: Stores) -> Self {
        Self {
            stores,
            sender: Arc::default(),
        }
    }

    /// Records `new` and pushes it, as [`Stores::submit`] does, with the
    /// jobs other requests submit meanwhile.
    pub(crate) async fn submit(&self, new: NewJob) -> Result<Inserted, StoreError> {
        let (answer, answered) = oneshot::channel();
        let sender = self.sender.get_or_init(|| self.start());
        if let Err(refused) = sender.send(Pending { new, answer }).await {
            return self.stores.submit(&refused.0.new).await;
        }
        match answered.await {
            Ok(inserted) => inserted,
            Err(_) => Err(StoreError::Contended("the job writer stopped".into())),
        }
    }

    /// Starts the writers on the caller's runtime.
    fn start(&self) -> mpsc::Sender<Pending> {
        let (sender, receiver) = mpsc::channel(4 * MAX_GROUP);
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..WRITERS {
            tokio::spawn(write_groups(self.stores.clone(), receiver.clone()));
        }
        sender
    }
}

/// Takes what waits, up to [`MAX_GROUP`], and records it, until every
/// sender is gone.
async fn write_groups(stores: Stores, receiver: Arc<Mutex<mpsc::Receiver<Pending>>>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    loop {
        // Held only while waiting: the next writer gathers while this one writes.
        if receiver.lock().await.recv_many(&mut group, MAX_GROUP).await == 0 {
            return;
        }
        let (news, answers): (Vec<NewJob>, Vec<_>) =
            group.drain(..).map(|p| (p.new, p.answer)).unzip();
        for (answer, inserted) in answers.into_iter().zip(record(&stores, &news).await) {
            // A request whose client left needs no answer; its job stands.
            let _ = answer.send(inserted);
        }
    }
}

/// Records `news` together and pushes the new ones; answers each.
async fn record(stores: &Stores, news: &[NewJob]) -> Vec<Result<Inserted, StoreError>> {
    let answers = match stores.db.jobs.insert_each(news).await {
        Ok(answers) => answers,
        // One job the database refuses must not refuse the jobs of other
        // requests: alone, each gets its own answer.
        Err(_) if news.len() > 1 => join_all(news.iter().map(|n| stores.db.jobs.insert(n))).await,
        Err(err) => vec![Err(err)],
    };
    let created: Vec<Job> = answers
        .iter()
        .filter_map(|a| a.as_ref().ok())
        .filter(|i| i.created)
        .map(|i| i.job.clone())
        .collect();
    stores.announce(&created).await;
    answers
}
