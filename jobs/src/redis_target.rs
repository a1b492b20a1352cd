//! Where the fleet's Redis is: one server (`redis://…`) or a Redis Cluster
//! (`redis+cluster://host:port,host:port,…`), and connections to either.
//!
//! Everything Mixdown keeps in Redis is addressed so that what one command,
//! script or pipeline touches lives in one hash slot: a queue's keys share
//! the tag `{prefix:queue}`, and every other command names a single key.

use std::time::Duration;

use redis::{
    Cmd, IntoConnectionInfo, Pipeline, RedisError, RedisFuture, Value,
    aio::{ConnectionLike, ConnectionManager},
    cluster::ClusterClient,
    cluster_async::ClusterConnection,
};

/// The scheme of a cluster's URL: its nodes follow, comma-separated.
const CLUSTER_SCHEME: &str = "redis+cluster://";

/// A Redis server or cluster, parsed from its URL; connects on demand.
#[derive(Clone)]
pub enum RedisTarget {
    /// One server.
    Server(Box<redis::Client>),
    /// A cluster, reached through any of its listed nodes.
    Cluster(Box<ClusterClient>),
}

impl std::fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: name the kind only.
        f.write_str(match self {
            Self::Server(_) => "RedisTarget::Server",
            Self::Cluster(_) => "RedisTarget::Cluster",
        })
    }
}

impl RedisTarget {
    /// Reads `redis://…` (one server) or `redis+cluster://[user:pass@]h1:p1,h2:p2,…`
    /// (a cluster; any subset of its nodes will do, the others are discovered).
    pub fn parse(url: &str) -> Result<Self, RedisError> {
        let Some(rest) = url.strip_prefix(CLUSTER_SCHEME) else {
            return Ok(Self::Server(Box::new(redis::Client::open(url)?)));
        };
        let (auth, nodes) = match rest.rsplit_once('@') {
            Some((auth, nodes)) => (format!("{auth}@"), nodes),
            None => (String::new(), rest),
        };
        let nodes: Vec<_> = nodes
            .trim_end_matches('/')
            .split(',')
            .map(|node| format!("redis://{auth}{}", node.trim()).into_connection_info())
            .collect::<Result<_, _>>()?;
        Ok(Self::Cluster(Box::new(ClusterClient::new(nodes)?)))
    }

    /// Whether this is a cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }

    /// A shared connection that reconnects by itself, for short commands.
    pub async fn connect(&self) -> Result<RedisConn, RedisError> {
        match self {
            Self::Server(client) => Ok(RedisConn::Server(
                ConnectionManager::new(client.as_ref().clone()).await?,
            )),
            Self::Cluster(client) => Ok(RedisConn::Cluster(client.get_async_connection().await?)),
        }
    }

    /// A connection of its own for blocking reads, which would stall every
    /// other command on a shared one; replies may take up to `timeout`.
    pub async fn dedicated(&self, timeout: Duration) -> Result<RedisConn, RedisError> {
        match self {
            Self::Server(client) => {
                let config =
                    redis::AsyncConnectionConfig::new().set_response_timeout(Some(timeout));
                let conn = client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await?;
                Ok(RedisConn::Dedicated(conn))
            }
            Self::Cluster(client) => {
                let config = redis::cluster::ClusterConfig::new().set_response_timeout(timeout);
                let conn = client.get_async_connection_with_config(config).await?;
                Ok(RedisConn::Cluster(conn))
            }
        }
    }
}

/// A connection to a Redis server or cluster; clones share it.
#[derive(Clone)]
pub enum RedisConn {
    /// To one server, reconnecting after failures.
    Server(ConnectionManager),
    /// To one server, left to its user to reopen.
    Dedicated(redis::aio::MultiplexedConnection),
    /// To a cluster: each command goes to the node of its keys' slot.
    Cluster(ClusterConnection),
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Server(c) => c.req_packed_command(cmd),
            Self::Dedicated(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Server(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Dedicated(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Server(c) => c.get_db(),
            Self::Dedicated(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_url_is_one_server_and_a_cluster_url_lists_nodes() {
        assert!(
            !RedisTarget::parse("redis://127.0.0.1:6379")
                .unwrap()
                .is_cluster()
        );
        let cluster = "redis+cluster://127.0.0.1:7001,127.0.0.1:7002/";
        assert!(RedisTarget::parse(cluster).unwrap().is_cluster());
        let with_password = "redis+cluster://:secret@127.0.0.1:7001,127.0.0.1:7002";
        assert!(RedisTarget::parse(with_password).unwrap().is_cluster());
    }

    #[test]
    fn a_cluster_url_with_a_bad_node_is_refused() {
        assert!(RedisTarget::parse("redis+cluster://127.0.0.1:7001,:x").is_err());
        assert!(RedisTarget::parse("nonsense://x").is_err());
    }
}
