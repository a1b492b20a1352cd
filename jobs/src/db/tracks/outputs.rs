//! Renditions added to a ready track's outputs: a compare-and-set on the
//! stored list, so that renditions made side by side all land and none is
//! stored twice.

use sqlx::Row;

use super::{TrackRepo, json};
use crate::{
    db::StoreError,
    ids::{TenantId, TrackId},
    tracks::OutputRecord,
};

/// Rounds lost to other writers of the same list before giving up.
const ROUNDS: usize = 16;

/// What adding outputs to a track did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddedOutputs {
    /// These presets' outputs were added; the track had the others already.
    Added(Vec<String>),
    /// The track is not ready, or not the tenant's.
    NotReady,
}

impl TrackRepo {
    /// Adds `outputs` after the ready track's own, keeping the output it has
    /// of any preset already (an output is made once, never replaced).
    pub async fn add_outputs(
        &self,
        tenant: TenantId,
        id: TrackId,
        outputs: &[OutputRecord],
    ) -> Result<AddedOutputs, StoreError> {
        for _ in 0..ROUNDS {
            let row = sqlx::query(
                "SELECT outputs FROM tracks WHERE id = $1 AND tenant_id = $2 AND state = 'ready'",
            )
            .bind(id.to_string())
            .bind(tenant.to_string())
            .fetch_optional(&self.db.pool)
            .await?;
            let stored: Option<String> = row.map(|r| r.try_get("outputs")).transpose()?.flatten();
            let Some(stored) = stored else {
                return Ok(AddedOutputs::NotReady);
            };
            let mut list: Vec<OutputRecord> = serde_json::from_str(&stored)
                .map_err(|e| StoreError::Corrupt(format!("tracks.outputs: {e}")))?;
            let fresh: Vec<OutputRecord> = outputs
                .iter()
                .filter(|o| !list.iter().any(|had| had.preset == o.preset))
                .cloned()
                .collect();
            let added: Vec<String> = fresh.iter().map(|o| o.preset.clone()).collect();
            if added.is_empty() {
                return Ok(AddedOutputs::Added(added));
            }
            list.extend(fresh);
            let swapped = sqlx::query(
                "UPDATE tracks SET outputs = $1, updated_at = $2 \
                 WHERE id = $3 AND tenant_id = $4 AND state = 'ready' AND outputs = $5",
            )
            .bind(json(&list))
            .bind(self.db.clock.now().millis())
            .bind(id.to_string())
            .bind(tenant.to_string())
            .bind(stored)
            .execute(&self.db.pool)
            .await?;
            if swapped.rows_affected() == 1 {
                return Ok(AddedOutputs::Added(added));
            }
        }
        Err(StoreError::Contended(format!(
            "the outputs of track {id} changed {ROUNDS} times while renditions were added"
        )))
    }
}
