//! What every kind's status shares: conditions, the generation they describe, the sync time.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{AwsAccountStatus, KmsAliasStatus, KmsGrantStatus, KmsKeyStatus};

pub trait CommonStatus: Serialize + DeserializeOwned + Default + Clone + PartialEq + Send + Sync + 'static {
    fn conditions(&self) -> &[Condition];
    fn set_conditions(&mut self, conditions: Vec<Condition>);
    fn last_sync_time(&self) -> Option<&Time>;
    fn set_last_sync_time(&mut self, time: Option<Time>);
    fn observed_generation(&self) -> Option<i64>;
    fn set_observed_generation(&mut self, generation: Option<i64>);
    /// Fields written in the middle of a pass, outside the status the pass reports: a write of
    /// the status that leaves one out removes it.
    fn written_mid_pass() -> &'static [&'static str];
}

impl AwsAccountStatus {
    const WRITTEN_MID_PASS: &'static [&'static str] = &[];
}

impl KmsAliasStatus {
    const WRITTEN_MID_PASS: &'static [&'static str] = &[];
}

impl KmsGrantStatus {
    const WRITTEN_MID_PASS: &'static [&'static str] = &[];
}

impl KmsKeyStatus {
    /// The intent to create is recorded just before CreateKey leaves.
    const WRITTEN_MID_PASS: &'static [&'static str] = &["creating"];
}

macro_rules! common_status {
    ($($kind:ty),*) => {$(
        impl CommonStatus for $kind {
            fn written_mid_pass() -> &'static [&'static str] {
                <$kind>::WRITTEN_MID_PASS
            }
            fn conditions(&self) -> &[Condition] {
                &self.conditions
            }
            fn set_conditions(&mut self, conditions: Vec<Condition>) {
                self.conditions = conditions;
            }
            fn last_sync_time(&self) -> Option<&Time> {
                self.last_sync_time.as_ref()
            }
            fn set_last_sync_time(&mut self, time: Option<Time>) {
                self.last_sync_time = time;
            }
            fn observed_generation(&self) -> Option<i64> {
                self.observed_generation
            }
            fn set_observed_generation(&mut self, generation: Option<i64>) {
                self.observed_generation = generation;
            }
        }
    )*};
}

common_status!(AwsAccountStatus, KmsAliasStatus, KmsGrantStatus, KmsKeyStatus);
