//! Making a key's planned changes, in order, each against the client of its region.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use futures::FutureExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::intent::{IntentError, IntentRecorder, covers_a_send, new_intent};
use super::rotate_now::tag_value;
use crate::api::CreateIntent;
use crate::api::catalog::{ROTATE_NOW_BASE_TAG, ROTATE_NOW_TAG};
use crate::aws::model::{NewKey, NewReplica};
use crate::aws::{AwsError, ErrorKind, KmsClient};
use crate::engine::cache::lock;
use crate::engine::change::{Action, Change, KeyHandle};
use crate::engine::desired::DesiredKey;
use crate::engine::{Engine, EngineError};
use crate::policy;

/// Where the intent to create goes before a CreateKey leaves, and what was recorded last.
pub(crate) struct Recording<'a> {
    pub recorder: Option<&'a dyn IntentRecorder>,
    pub recorded: &'a Mutex<Option<CreateIntent>>,
}

impl Recording<'_> {
    /// For passes that never create (deletion).
    pub fn none() -> Recording<'static> {
        static NOTHING: Mutex<Option<CreateIntent>> = Mutex::new(None);
        Recording { recorder: None, recorded: &NOTHING }
    }

    /// The create recorded last was answered: no key came of it.
    fn settle(&self) {
        *lock(self.recorded) = None;
    }

    /// The create recorded last left and its answer was lost: its key may land or show from
    /// now on. The record was stamped before the last attempt left (`keep_fresh`) and its
    /// attempt timeout ran; restamped, the window a process that reads it next (after a restart,
    /// a failover, a shard handover) grants the create runs from here, as this process's own
    /// memory of it does, instead of being spent before the answer was even given up on.
    fn answer_lost(&self) {
        if let Some(intent) = lock(self.recorded).as_mut() {
            intent.since = Time(jiff::Timestamp::now());
        }
    }

    /// Restamps the intent on record, through the recorder that recorded it, unless it still
    /// covers an attempt about to leave (`covers_a_send`): this process may die with the attempt
    /// in flight, and the next one waits for its key only as long as the record says. Asked
    /// before every attempt (a guard of the AWS call), after the wait for quota, because
    /// bounding the retries instead would also have to bound that wait, and a create turned
    /// away would queue for quota again. Local mode records no intent and needs none: a lost
    /// answer is remembered from the moment it was lost, after every retry, and a killed local
    /// run leaves nothing behind to restamp.
    async fn keep_fresh(&self, window: Duration) -> Result<(), IntentError> {
        let Some(recorder) = self.recorder else {
            return Ok(());
        };
        let aged = lock(self.recorded).clone().filter(|intent| !covers_a_send(window, &intent.since));
        let Some(mut intent) = aged else {
            return Ok(());
        };
        intent.since = Time(jiff::Timestamp::now());
        recorder.record(&intent).await?;
        *lock(self.recorded) = Some(intent);
        Ok(())
    }

    async fn record(&self) -> Result<(), EngineError> {
        let Some(recorder) = self.recorder else {
            return Ok(());
        };
        let intent = new_intent();
        recorder.record(&intent).await.map_err(EngineError::Intent)?;
        *lock(self.recorded) = Some(intent);
        Ok(())
    }
}

/// A state change KMS refuses because the key is already in that state: done, by an earlier
/// attempt whose answer was lost.
fn already_done<T>(result: Result<T, EngineError>) -> Result<(), EngineError> {
    match result {
        Err(EngineError::Aws { source, .. }) if source.kind == ErrorKind::InvalidState => Ok(()),
        other => other.map(|_| ()),
    }
}

impl Engine {
    /// Executes `changes`; every change that succeeded is appended to `made` (also on error).
    /// Returns the id of a key created on the way.
    pub(crate) async fn execute_key_changes(
        &self,
        desired: &DesiredKey,
        changes: &[Change],
        made: &mut Vec<Change>,
        recording: Recording<'_>,
    ) -> Result<Option<String>, EngineError> {
        let mut created: Option<String> = None;
        for change in changes {
            self.may_start(change)?;
            if let Action::Monitoring(action) = &change.action {
                // A new key's alarms wait for the next round, which knows the key's ARN.
                if change.key != KeyHandle::New {
                    self.execute_monitoring(&desired.account, change, action).await?;
                    made.push(change.clone());
                }
                continue;
            }
            let client = self.kms(&desired.account, &change.region).await;
            let key_id = match (&change.key, &created) {
                (KeyHandle::Existing(id), _) | (KeyHandle::New, Some(id)) => id.clone(),
                (KeyHandle::New, None) => match &change.action {
                    Action::CreateKey(_) => String::new(),
                    _ => {
                        return Err(EngineError::Unresolved(
                            "a change for a new key came before the key was created".into(),
                        ));
                    }
                },
                (KeyHandle::Pending(object), _) => {
                    return Err(EngineError::Unresolved(format!("the key of {object} does not exist yet")));
                }
                (KeyHandle::Account, _) => {
                    return Err(EngineError::Unresolved("an account's change came with a key's".into()));
                }
            };
            if matches!(change.action, Action::CreateKey(_)) {
                recording.record().await?;
            }
            let new_id = match self.execute_key_change(desired, &client, &key_id, change, &recording).await {
                Ok(new_id) => new_id,
                Err(error @ EngineError::Ambiguous(_)) if matches!(change.action, Action::CreateKey(_)) => {
                    recording.answer_lost();
                    return Err(error);
                }
                // A CreateKey KMS refused made no key: no create is in question any more, and
                // the next pass may try again at once (IAM may have caught up by then).
                Err(error) if matches!(change.action, Action::CreateKey(_)) => {
                    recording.settle();
                    return Err(error);
                }
                Err(error) => return Err(error),
            };
            let acted_on = new_id.clone().unwrap_or(key_id);
            created = new_id.or(created);
            made.push(Change { key: KeyHandle::Existing(acted_on), ..change.clone() });
        }
        Ok(created)
    }

    async fn execute_key_change(
        &self,
        desired: &DesiredKey,
        client: &KmsClient,
        key_id: &str,
        change: &Change,
        recording: &Recording<'_>,
    ) -> Result<Option<String>, EngineError> {
        tracing::info!(object = %desired.object, region = %change.region, change = %change.summary(), "changing KMS");
        let result = match &change.action {
            Action::CreateKey(new) => {
                let request = NewKey {
                    description: new.description.clone(),
                    key_spec: new.key_spec.clone(),
                    key_usage: new.key_usage.clone(),
                    multi_region: new.multi_region,
                    material: new.material.clone(),
                    policy: policy::to_pretty_json(&new.policy),
                    tags: new.tags.clone(),
                    bypass_policy_lockout_safety_check: new.bypass_lockout_check,
                };
                let withheld = Mutex::new(None);
                let window = self.settings.create_visibility_window;
                let fresh = || {
                    async {
                        let kept = recording.keep_fresh(window).await;
                        kept.map_err(|error| *lock(&withheld) = Some(error)).is_ok()
                    }
                    .boxed()
                };
                let key = match self
                    .while_iam_propagates(desired.owner_value(), || client.create_key(&request, &fresh))
                    .await
                {
                    Ok(key) => key,
                    // The intent could not be restamped, so the attempt did not leave.
                    Err(EngineError::Aws { source, .. }) if source.kind == ErrorKind::NotSent => {
                        return Err(lock(&withheld)
                            .take()
                            .map_or_else(|| EngineError::aws(source), EngineError::Intent));
                    }
                    Err(EngineError::Aws { source, .. }) if source.kind.outcome_unknown() => {
                        // The key may exist now, or soon: the next lookup lists the region again
                        // and waits for it before creating another.
                        self.listings.forget_keys(client);
                        self.remember_in_question(desired.owner_value());
                        return Err(EngineError::Ambiguous(source));
                    }
                    Err(error) => return Err(error),
                };
                self.settle(desired.owner_value());
                self.remember_created(&key.key_id);
                self.listings.record_key_tags(client, &key.key_id, &new.tags);
                return Ok(Some(key.key_id));
            }
            Action::ReplicateKey(replica) => {
                let request = NewReplica {
                    region: replica.region.clone(),
                    description: replica.description.clone(),
                    policy: policy::to_pretty_json(&replica.policy),
                    tags: replica.tags.clone(),
                    bypass_policy_lockout_safety_check: replica.bypass_lockout_check,
                };
                self.remember_created(key_id);
                let subject = format!("{key_id}/{}", replica.region);
                let replicate = || self.tolerate_new_key(key_id, || client.replicate_key(key_id, &request));
                let result = match self.while_iam_propagates(&subject, replicate).await {
                    // An earlier attempt whose answer was lost already made it.
                    Err(EngineError::Aws { source, .. }) if source.kind == ErrorKind::AlreadyExists => Ok(()),
                    other => other.map(|_| ()),
                };
                // A replica this call made, or may have made before its answer was lost, is the
                // operator's, whatever tags the server kept.
                let may_exist = match &result {
                    Ok(()) => true,
                    Err(EngineError::Aws { source, .. }) => source.kind.outcome_unknown(),
                    Err(_) => false,
                };
                if may_exist {
                    self.remember_replicated(key_id, &replica.region);
                }
                result
            }
            Action::EnableKey => self.on_key(key_id, || client.enable_key(key_id)).await,
            Action::DisableKey => self.on_key(key_id, || client.disable_key(key_id)).await,
            Action::UpdateDescription { to, .. } => self.on_key(key_id, || client.update_description(key_id, to)).await,
            Action::PutPolicy { from, to, bypass_lockout_check } => {
                let text = policy::to_pretty_json(to);
                let put = || self.tolerate_new_key(key_id, || client.put_policy(key_id, &text, *bypass_lockout_check));
                let deleted = from.as_ref().map(policy::deleted_principals).unwrap_or_default();
                if deleted.is_empty() {
                    self.while_iam_propagates(&format!("{key_id}/{}", change.region), put).await
                } else {
                    // A principal that was deleted does not come back by waiting: fail at once,
                    // and let the controller's backoff space out the next attempt.
                    match put().await {
                        Err(source) if source.is_invalid_principal() => {
                            let principals = deleted
                                .iter()
                                .map(|d| format!("{} (statement {})", d.unique_id, d.statement))
                                .collect::<Vec<_>>()
                                .join(", ");
                            Err(EngineError::PrincipalNotFound { source, principals })
                        }
                        other => other.map_err(EngineError::aws),
                    }
                }
            }
            Action::EnableRotation { period_days, .. } => {
                self.on_key(key_id, || client.enable_rotation(key_id, *period_days)).await
            }
            Action::DisableRotation => self.on_key(key_id, || client.disable_rotation(key_id)).await,
            Action::RotateOnDemand { value, on_demand_before, recorded } => {
                self.rotate_on_demand(client, key_id, value, *on_demand_before, *recorded).await
            }
            Action::Tag(tags) => {
                let set: BTreeMap<String, String> = tags.iter().map(|t| (t.key.clone(), t.to.clone())).collect();
                self.tag_key(client, key_id, &set).await
            }
            Action::Untag(removed) => {
                let keys: Vec<String> = removed.iter().map(|(k, _)| k.clone()).collect();
                self.untag_key(client, key_id, &keys).await
            }
            Action::ScheduleDeletion { pending_window_days } => {
                // Already pending (an earlier attempt's answer was lost): what we wanted.
                already_done(self.on_key(key_id, || client.schedule_deletion(key_id, *pending_window_days)).await)
            }
            Action::RemoveDuplicate { pending_window_days, .. } => {
                // Disabled first, so it is out of use for the whole pending window. Either step
                // may have been done by an earlier attempt whose answer was lost.
                already_done(self.on_key(key_id, || client.disable_key(key_id)).await)?;
                already_done(self.on_key(key_id, || client.schedule_deletion(key_id, *pending_window_days)).await)
            }
            // No longer pending (an earlier attempt's answer was lost): restored already.
            Action::CancelDeletion => already_done(self.on_key(key_id, || client.cancel_deletion(key_id)).await),
            other => Err(EngineError::Unresolved(format!("{other:?} is not a key change"))),
        };
        result.map(|()| None)
    }

    /// The three steps of `rotate_now`: record, rotate, clear the record of being under way.
    async fn rotate_on_demand(
        &self,
        client: &KmsClient,
        key_id: &str,
        value: &str,
        on_demand_before: u32,
        recorded: bool,
    ) -> Result<(), EngineError> {
        if !recorded {
            let record = BTreeMap::from([
                (ROTATE_NOW_TAG.to_owned(), tag_value(value)),
                (ROTATE_NOW_BASE_TAG.to_owned(), on_demand_before.to_string()),
            ]);
            self.tag_key(client, key_id, &record).await?;
        }
        match self.on_key(key_id, || client.rotate_on_demand(key_id)).await {
            // KMS refuses a second rotation while one runs: an earlier attempt's, whose answer
            // was lost.
            Err(EngineError::Aws { source, .. }) if source.code.as_deref() == Some("ConflictException") => {}
            other => other?,
        }
        self.untag_key(client, key_id, &[ROTATE_NOW_BASE_TAG.to_owned()]).await
    }

    /// TagResource, and the pass's key index told, so a later lookup sees the tags.
    async fn tag_key(
        &self,
        client: &KmsClient,
        key_id: &str,
        set: &BTreeMap<String, String>,
    ) -> Result<(), EngineError> {
        self.on_key(key_id, || client.tag(key_id, set)).await?;
        self.listings.record_tag_change(client, key_id, set, &[]);
        Ok(())
    }

    /// UntagResource, and the pass's key index told.
    async fn untag_key(&self, client: &KmsClient, key_id: &str, keys: &[String]) -> Result<(), EngineError> {
        self.on_key(key_id, || client.untag(key_id, keys)).await?;
        self.listings.record_tag_change(client, key_id, &BTreeMap::new(), keys);
        Ok(())
    }

    async fn on_key<T, F, Fut>(&self, key_id: &str, call: F) -> Result<T, EngineError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AwsError>>,
    {
        self.tolerate_new_key(key_id, call).await.map_err(EngineError::aws)
    }
}
