//! A local-mode run: every manifest through the engine in dependency order (an alias or grant
//! after its key, a key after its aliases and grants when deleting), independent resources
//! concurrently, in lanes of (account, region) (lanes.rs).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::admission::{Admission, unadmitted_result};
use super::by_tag::{Search, Unfound};
use super::export::exported;
use super::lanes::{Lane, LaneWorkers, each_in_lanes};
use super::manifests::ManifestSet;
use super::progress::RunProgress;
use super::result::ResourceResult;
use super::targets::{KeyDirectory, explicit_target};
use crate::api::monitoring::AccountMonitoring;
use crate::api::{KeyPointer, Kind, KmsAlias, KmsGrant, KmsKey, ObjectName};
use crate::aws::lanes::Staffing;
use crate::aws::{AccountConfig, CallSummary, Limiter, RateLimits};
use crate::engine::alias::KeyTarget;
use crate::engine::key::{KeyReport, KeyRequest, Memory};
use crate::engine::on_key::{OnKey, OnKeyContext};
use crate::engine::{Engine, Mode};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Plan,
    Apply,
    Delete,
}

impl Command {
    /// The subcommand as typed on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Command::Plan => "plan",
            Command::Apply => "apply",
            Command::Delete => "delete",
        }
    }
}

pub struct RunOutput {
    pub command: Command,
    pub results: Vec<ResourceResult>,
    pub calls: CallSummary,
}

impl RunOutput {
    pub fn any_failed(&self) -> bool {
        self.results.iter().any(ResourceResult::failed)
    }

    pub fn any_pending(&self) -> bool {
        self.results.iter().any(ResourceResult::pending)
    }

    /// `plan`: 0 in sync, 2 changes pending, 1 error. `apply`, `delete`: 0 done, 1 error.
    pub fn exit_code(&self) -> i32 {
        if self.any_failed() {
            1
        } else if self.command == Command::Plan && self.any_pending() {
            2
        } else {
            0
        }
    }
}

/// Runs `task` for every item, at most `limit` at a time, results in the items' order: one slow
/// resource holds up only its own slot.
async fn each<'a, T, R, Fut>(items: &'a [T], limit: usize, task: impl Fn(&'a T) -> Fut) -> Vec<R>
where
    Fut: Future<Output = R>,
{
    let workers = LaneWorkers::new(Staffing::fixed(limit), Limiter::new(&RateLimits::unlimited()));
    each_in_lanes(items, |_| Lane::default(), &workers, task).await
}

fn now() -> Time {
    Time(jiff::Timestamp::now())
}

fn namespace_of<K: kube::Resource>(object: &K) -> String {
    object.meta().namespace.clone().unwrap_or_else(|| "default".to_owned())
}

fn object_name(key: &KmsKey) -> ObjectName {
    ObjectName::of(Kind::KmsKey, &key.metadata)
}

fn key_row(report: KeyReport, at: &Time) -> ResourceResult {
    let id = report.status.key_id.clone();
    let state = report.status.key_state.clone();
    ResourceResult::from_report(report, at, id, state)
}

pub struct Runner<'a> {
    engine: &'a Engine,
    set: &'a ManifestSet,
    concurrency: usize,
    accounts: BTreeMap<String, AccountConfig>,
    /// Each account's `spec.monitoring`, by name.
    monitoring: BTreeMap<String, AccountMonitoring>,
    /// Accounts whose identity check failed this run: their resources are not attempted, so the
    /// account's error is reported once instead of once per resource.
    unverified: Mutex<BTreeSet<String>>,
    progress: Arc<RunProgress>,
    /// Manifests beside the run's own that say where a KmsKey not among them lives (`plan
    /// --base`: the manifests after the change, for the deletions of the ones before it).
    reference: Option<&'a ManifestSet>,
}

impl<'a> Runner<'a> {
    pub fn new(engine: &'a Engine, set: &'a ManifestSet, concurrency: usize) -> Self {
        let accounts = set
            .accounts
            .iter()
            .filter_map(|a| {
                let name = a.object.metadata.name.clone()?;
                Some((name.clone(), AccountConfig::from_spec(&name, &a.object.spec)))
            })
            .collect();
        let monitoring = set
            .accounts
            .iter()
            .filter_map(|a| Some((a.object.metadata.name.clone()?, a.object.spec.monitoring.clone()?)))
            .collect();
        let total = set.accounts.len() + set.keys.len() + set.aliases.len() + set.grants.len();
        let progress = Arc::new(RunProgress::new(total));
        Runner {
            engine,
            set,
            concurrency,
            accounts,
            monitoring,
            unverified: Mutex::new(BTreeSet::new()),
            progress,
            reference: None,
        }
    }

    /// Resources finished so far, of all: what a progress display shows.
    pub fn progress(&self) -> Arc<RunProgress> {
        self.progress.clone()
    }

    /// `work`, counted as one resource finished when it ends.
    async fn counted<R>(&self, work: impl Future<Output = R>) -> R {
        let result = work.await;
        self.progress.finish_one();
        result
    }

    /// Reaches every account through the role `name` in it instead of its `assumeRoleArn`.
    pub fn through_role(mut self, name: Option<&str>) -> Self {
        if let Some(name) = name {
            self.accounts = std::mem::take(&mut self.accounts)
                .into_iter()
                .map(|(account, config)| (account, config.through_role(name)))
                .collect();
        }
        self
    }

    /// Where KmsKeys that are not among the run's manifests are declared.
    pub fn with_reference(mut self, reference: &'a ManifestSet) -> Self {
        self.reference = Some(reference);
        self
    }

    fn key_account(&self, key: &KmsKey) -> Option<&AccountConfig> {
        self.accounts.get(&key.spec.account_ref)
    }

    /// The (account, region) whose quota a key's pass spends first: its primary's.
    fn account_lane(&self, account_ref: &str, region: Option<&str>) -> Lane {
        match self.accounts.get(account_ref) {
            Some(account) => {
                Lane { account_id: account.account_id.clone(), region: region.unwrap_or(&account.region).to_owned() }
            }
            None => Lane::default(),
        }
    }

    fn key_lane(&self, key: &KmsKey) -> Lane {
        self.account_lane(&key.spec.account_ref, key.spec.region.as_deref())
    }

    /// An alias's or grant's lane: its key's account, in its own region if it names one.
    fn on_key_lane<T: OnKey + kube::Resource>(&self, object: &T, key_lanes: &HashMap<(String, &str), Lane>) -> Lane {
        let pointer = object.pointer();
        match (pointer.key_ref, pointer.account_ref) {
            (Some(key_ref), _) => {
                let key = key_lanes.get(&(namespace_of(object), key_ref.name.as_str())).cloned().unwrap_or_default();
                Lane { region: pointer.region.map_or(key.region, str::to_owned), ..key }
            }
            (None, Some(account_ref)) => self.account_lane(account_ref, pointer.region),
            (None, None) => Lane::default(),
        }
    }

    /// The account to act in, or why its resources are not attempted.
    fn usable_account(&self, name: &str) -> Result<&AccountConfig, String> {
        let account = self.accounts.get(name).ok_or_else(|| format!("AwsAccount {name} is not among the manifests"))?;
        if self.unverified.lock().unwrap_or_else(PoisonError::into_inner).contains(name) {
            return Err(format!("AwsAccount {name} could not be verified: see above"));
        }
        Ok(account)
    }

    pub async fn run(&self, command: Command) -> RunOutput {
        let mode = if command == Command::Plan { Mode::Plan } else { Mode::Apply };
        self.pass(command, mode).await
    }

    /// What `delete` would do, without doing it: the deletions `plan --base` shows.
    pub async fn plan_deletion(&self) -> RunOutput {
        self.pass(Command::Delete, Mode::Plan).await
    }

    /// `command` over every resource; `mode` says whether it may write.
    async fn pass(&self, command: Command, mode: Mode) -> RunOutput {
        let before = self.engine.calls().stats.snapshot();
        let at = &now();
        let accounts: Vec<&AccountConfig> = self.accounts.values().collect();
        // Deleting leaves an account's own alarms, as deleting the AwsAccount in a cluster does.
        let account_mode = match command {
            Command::Plan | Command::Apply => Some(mode),
            Command::Delete => None,
        };
        let mut results: Vec<ResourceResult> = each(&accounts, self.concurrency, |account| async move {
            let monitoring = self.monitoring.get(&account.name);
            let report = self.counted(self.engine.check_account(account, monitoring, account_mode)).await;
            let id = Some(account.account_id.clone());
            let state = match (report.is_failed(), report.status.account_verified) {
                (true, _) => "Unverified",
                (false, Some(true)) => "Verified",
                (false, _) => "NotChecked",
            };
            ResourceResult::from_report(report, at, id, Some(state.to_owned()))
        })
        .await;
        *self.unverified.lock().unwrap_or_else(PoisonError::into_inner) =
            results.iter().filter(|r| r.failed()).map(|r| r.object.name.clone()).collect();

        let keys: Vec<&KmsKey> = self.set.keys.iter().map(|k| &k.object).collect();
        let aliases: Vec<&KmsAlias> = self.set.aliases.iter().map(|a| &a.object).collect();
        let grants: Vec<&KmsGrant> = self.set.grants.iter().map(|g| &g.object).collect();
        let directory = KeyDirectory::new(keys.iter().copied());
        // Every kind runs in lanes of (account, region), `concurrency` workers each to start
        // with and more while the lane's quota goes unspent: a lane waiting for its quota holds
        // none of another's workers (lanes.rs). Each kind has its own: an alias waits for its
        // key while holding its worker, so keys and aliases must never wait for one another's.
        let staffing = Staffing::from_floor(self.concurrency);
        let lane_workers = || LaneWorkers::new(staffing, self.engine.calls().limiter.clone());
        let (key_workers, alias_workers, grant_workers) = (lane_workers(), lane_workers(), lane_workers());
        let key_lanes: HashMap<(String, &str), Lane> = keys
            .iter()
            .filter_map(|key| Some(((namespace_of(*key), key.metadata.name.as_deref()?), self.key_lane(key))))
            .collect();
        let key_lane = |key: &&KmsKey| self.key_lane(key);
        // Deleting resolves the keys first (a plan), so aliases and grants go before their keys.
        let delete = command == Command::Delete;
        let key_mode = if delete { Mode::Plan } else { mode };
        // Deleting counts a key when its second pass (the deletion) ends, not its first.
        let key_pass = each_in_lanes(&keys, key_lane, &key_workers, |key| async {
            let report = if delete {
                self.key(key, key_mode, false).await
            } else {
                self.counted(self.key(key, key_mode, false)).await
            };
            let recorded = report.as_ref().map_err(|result| &result.synced.message);
            directory.record(key, self.key_account(key), recorded);
            report
        });
        // Aliases and grants run beside the keys, each waiting only for its own key, so a fleet
        // converges at the pace of its slowest quota instead of one phase after another.
        let (key_reports, alias_results, grant_results) = futures::join!(
            key_pass,
            each_in_lanes(
                &aliases,
                |alias| self.on_key_lane(*alias, &key_lanes),
                &alias_workers,
                |alias| self.counted(self.on_key(*alias, &directory, mode, delete, at))
            ),
            each_in_lanes(
                &grants,
                |grant| self.on_key_lane(*grant, &key_lanes),
                &grant_workers,
                |grant| self.counted(self.on_key(*grant, &directory, mode, delete, at))
            ),
        );
        let key_reports = if delete {
            each_in_lanes(&keys, key_lane, &key_workers, |key| self.counted(self.key(key, mode, true))).await
        } else {
            key_reports
        };
        let mut key_results = Vec::new();
        for (key, report) in keys.iter().zip(key_reports) {
            key_results.push(match report {
                Ok(report) => {
                    let export = match (delete, self.key_account(key)) {
                        (false, Some(account)) => {
                            exported(self.engine, account, key, &report.status, &alias_results).await
                        }
                        _ => None,
                    };
                    ResourceResult { export, ..key_row(report, at) }
                }
                Err(result) => *result,
            });
        }
        results.extend(key_results);
        results.extend(alias_results);
        results.extend(grant_results);
        RunOutput { command, results, calls: self.engine.calls().stats.snapshot().since(&before) }
    }

    async fn key(&self, key: &KmsKey, mode: Mode, delete: bool) -> Result<KeyReport, Box<ResourceResult>> {
        if self.engine.is_stopping() {
            return Err(Box::new(ResourceResult::not_started(object_name(key))));
        }
        let unadmitted = |why| Box::new(unadmitted_result(object_name(key), why));
        let tenant = Admission::new(self.set).key(key).map_err(unadmitted)?;
        let account = self
            .usable_account(&key.spec.account_ref)
            .map_err(|reason| Box::new(ResourceResult::unresolved(object_name(key), reason)))?;
        let monitoring = self.monitoring.get(&key.spec.account_ref);
        let request =
            KeyRequest { key, account, monitoring, tenant: &tenant, memory: Memory::default(), recorder: None };
        Ok(if delete {
            self.engine.delete_key(request, mode).await
        } else {
            self.engine.reconcile_key(request, mode).await
        })
    }

    async fn target(
        &self,
        namespace: &str,
        pointer: KeyPointer<'_>,
        directory: &KeyDirectory,
    ) -> Result<KeyTarget, String> {
        match (pointer.key_ref, pointer.target_key_id) {
            (Some(key_ref), _) => directory.lookup(namespace, &key_ref.name).await,
            (None, Some(key_id)) => {
                let account_name = pointer.account_ref.ok_or("spec.targetKeyId needs spec.accountRef")?;
                let account = self.usable_account(account_name)?;
                Ok(explicit_target(key_id, account, pointer.region))
            }
            (None, None) => Err("set spec.keyRef or spec.targetKeyId".to_owned()),
        }
    }

    /// An alias or a grant, once its key is known.
    async fn on_key<T>(
        &self,
        object: &T,
        directory: &KeyDirectory,
        mode: Mode,
        delete: bool,
        at: &Time,
    ) -> ResourceResult
    where
        T: OnKey + kube::Resource,
    {
        if self.engine.is_stopping() {
            return ResourceResult::not_started(object.object_name());
        }
        let namespace = namespace_of(object);
        let pointer = object.pointer();
        if let Some(key_ref) = pointer.key_ref.filter(|r| delete && !directory.has(&namespace, &r.name)) {
            return self.remove_by_tag(object, &namespace, &key_ref.name, mode, at).await;
        }
        let tenant = match Admission::new(self.set).on_key(object) {
            Ok(tenant) => tenant,
            Err(why) => return unadmitted_result(object.object_name(), why),
        };
        let target = self.target(&namespace, pointer, directory).await;
        let target = target.as_ref().map_err(String::clone);
        let context = OnKeyContext { target, tenant: &tenant, previous_accounts: &[], records: false };
        let report = if delete {
            object.remove(self.engine, context, mode).await
        } else {
            object.converge(self.engine, context, mode).await
        };
        let (id, state) = object.columns(&report.status);
        ResourceResult::from_report(report, at, id, state)
    }

    /// Deletes an alias or grant whose KmsKey is not among the manifests: its key is found by
    /// the KmsKey's ownership tag (see `by_tag`).
    async fn remove_by_tag<T>(
        &self,
        object: &T,
        namespace: &str,
        key_name: &str,
        mode: Mode,
        at: &Time,
    ) -> ResourceResult
    where
        T: OnKey + kube::Resource,
    {
        let search = Search { engine: self.engine, set: self.set, reference: self.reference };
        let found = search.find(object, namespace, key_name, |name| self.usable_account(name)).await;
        let (target, tenant) = match found {
            Ok(found) => found,
            Err(Unfound::Refused(why)) => return unadmitted_result(object.object_name(), why),
            Err(Unfound::Missing(message)) => return ResourceResult::nothing_to_delete(object.object_name(), message),
            Err(Unfound::Failed(error)) => return ResourceResult::failed_before(object.object_name(), error),
        };
        let context = OnKeyContext { target: Ok(&target), tenant: &tenant, previous_accounts: &[], records: false };
        let report = object.remove(self.engine, context, mode).await;
        let (id, state) = object.columns(&report.status);
        ResourceResult::from_report(report, at, id, state)
    }
}
