//! Placeholder module filled by the chaos run.
