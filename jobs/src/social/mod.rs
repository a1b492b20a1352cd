//! The social side: the graph of who follows, blocks and mutes whom,
//! activities that users publish, and how a fan-out spreads an activity to
//! its actor's followers' feeds (the fan-out workflow's rules are
//! `workflow::fanout`).

pub mod activity;
pub mod graph;
pub mod lines;

pub use crate::workflow::fanout::{ChunkPayload, FanoutPayload, FanoutResult, FeedRules, Spread};

pub use self::{
    activity::{Activity, FeedItem, NewActivity},
    graph::{EdgeChange, EdgeChanges, EdgeFormat, EdgeReader, LineError, Relation, UserId},
    lines::{EdgeLines, ReadError},
};
