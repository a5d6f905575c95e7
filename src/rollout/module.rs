//! One module's step, read as the sequence of the rollout rules: a paused module stays; clusters
//! newly matching get the stable version; the rollout record says the waves; every pair of
//! them is judged on health against the budgets; a failure beyond them halts (and, the run
//! after, rolls back); once the earlier waves are complete the next one is applied inside the
//! maintenance windows, else the module waits (or bakes).

use std::collections::{BTreeMap, BTreeSet};

use super::health::Judged;
use super::lookup::HealthByCluster;
use super::pairs::{self, ByCluster, ByName, Pair, Slot};
use super::record::{self, RolloutRecord};
use super::summary::{record_waves, wave_plans};
use super::windows::Gate;
use super::{Change, Inputs, ModulePlan, ModuleState, WaveStatus};
use super::{advance, halt, rollback, waves};
use crate::model::{Module, OnFailure, Policy, RolloutPolicy};
use crate::render::Pointer;

/// What a module's step is decided from.
pub struct Context<'i, 'a> {
    pub inputs: &'i Inputs<'a>,
    /// The health snapshot by cluster name.
    pub health: &'i HealthByCluster<'a>,
    pub name: &'i str,
    /// The module in main (none when it is being removed everywhere).
    pub module: Option<&'a Module>,
    /// Its index in the fleet.
    pub index: Option<usize>,
    pub policy: Policy,
    /// The record on the rendered branch.
    pub recorded: Option<&'i RolloutRecord>,
}

impl Context<'_, '_> {
    /// The version in main.
    pub fn desired_version(&self) -> Option<String> {
        self.module.map(|m| m.spec.version.value.clone())
    }
}

/// What a module's step does so far: its plan, the changes and the pointers it sets (none =
/// remove).
pub struct Step {
    pub plan: ModulePlan,
    pub changes: Vec<Change>,
    pub set: BTreeMap<String, Option<Pointer>>,
}

impl Step {
    fn finish(self, record: RecordUpdate) -> Outcome {
        Outcome {
            plan: self.plan,
            changes: self.changes,
            set: self.set,
            record,
        }
    }
}

/// What becomes of the module's rollout record.
pub enum RecordUpdate {
    Keep,
    Remove,
    Write(Box<RolloutRecord>),
}

/// One module's step: its plan, the pointers it sets (none = remove), its record.
pub struct Outcome {
    pub plan: ModulePlan,
    pub changes: Vec<Change>,
    pub set: BTreeMap<String, Option<Pointer>>,
    pub record: RecordUpdate,
}

/// Plans the next step of module `name`.
pub fn plan_module<'a>(
    inputs: &Inputs<'a>,
    health: &HealthByCluster<'a>,
    by_cluster: &ByCluster<'a>,
    name: &str,
    slots: &[Slot],
) -> Outcome {
    let ctx = context(inputs, health, name);
    let mut pairs = pairs::collect(&ctx, by_cluster, slots);
    let mut step = Step::new(&ctx);
    if ctx.policy.paused {
        return paused(&ctx, &pairs, step);
    }

    let env = crate::template::sandbox();
    let gate = Gate::new(&env, &ctx.policy.windows, inputs.renderer, inputs.now);
    let target = record::target(ctx.module);
    let existing = ctx.recorded.filter(|r| r.target == target);
    let rolling: BTreeSet<&str> = existing
        .iter()
        .flat_map(|r| r.waves.iter().flat_map(|w| w.clusters.iter()))
        .map(String::as_str)
        .collect();
    let stable = pairs::stable_version(&pairs);
    let newcomers_at = stable.as_deref();
    pairs::place_newcomers(&ctx, &gate, &mut pairs, newcomers_at, &rolling, &mut step);
    let pending = pairs::pending(&pairs);

    let Some(mut record) = waves::rollout(&ctx, existing, &pairs, !pending.is_empty(), stable)
    else {
        step.plan.reason = "every cluster runs the desired state".into();
        let update = match ctx.recorded {
            Some(_) => RecordUpdate::Remove,
            None => RecordUpdate::Keep,
        };
        return step.finish(update);
    };
    step.plan.from = record.from.clone();
    let by_name: ByName = pairs.iter().map(|p| (p.name, p)).collect();
    let judged = Judged::new(&ctx, &record, &by_name, &pending);
    let rollout = Rollout {
        ctx: &ctx,
        gate: &gate,
        judged: &judged,
        by_name: &by_name,
    };
    if rollout.next_step(&mut step, &mut record) {
        return step.finish(RecordUpdate::Remove);
    }
    let nothing_started = record.halted.is_none() && !record.waves.iter().any(|w| w.applied);
    let update = if ctx.recorded == Some(&record) || (ctx.recorded.is_none() && nothing_started) {
        RecordUpdate::Keep
    } else {
        RecordUpdate::Write(Box::new(record))
    };
    step.finish(update)
}

/// A rollout in progress, its pairs judged.
struct Rollout<'r, 'i, 'a> {
    ctx: &'r Context<'i, 'a>,
    gate: &'r Gate<'r, 'r, 'a>,
    judged: &'r Judged,
    by_name: &'r ByName<'r>,
}

impl Rollout<'_, '_, '_> {
    /// The rules, in order: a halted rollout stays halted (or rolls back); failures beyond a
    /// wave's budget halt it; once the earlier waves are complete the next is applied, else the
    /// module waits or bakes. Returns whether the rollout is complete.
    fn next_step(&self, step: &mut Step, record: &mut RolloutRecord) -> bool {
        let judged = self.judged;
        step.plan.tolerated = tolerated(record, judged);
        if let Some(halted) = record.halted.clone() {
            match self.ctx.policy.on_failure {
                OnFailure::Halt => halt::stay_halted(&mut step.plan, record, judged, &halted),
                OnFailure::Rollback => rollback::roll_back(
                    self.ctx,
                    self.gate,
                    step,
                    record,
                    judged,
                    self.by_name,
                    &halted,
                ),
            }
            return false;
        }
        if let Some(failed) = halt::failures(record, judged) {
            halt::halt(&mut step.plan, record, judged, failed);
            return false;
        }
        match advance::earlier_waves(record, judged) {
            advance::Earlier::Blocked(blocking) => {
                advance::wait(&mut step.plan, record, judged, &blocking);
                false
            }
            advance::Earlier::Complete(evidence) => {
                step.plan.evidence = evidence;
                let Some(k) = judged.first_pending() else {
                    step.plan.reason = "every cluster runs the desired state, healthy".into();
                    step.plan.waves = wave_plans(record, judged, None, None);
                    return true;
                };
                let (ctx, gate, by_name) = (self.ctx, self.gate, self.by_name);
                advance::apply_wave(ctx, gate, step, record, judged, by_name, k);
                false
            }
        }
    }
}

impl Step {
    /// A step that changes nothing yet.
    fn new(ctx: &Context<'_, '_>) -> Step {
        Step {
            plan: ModulePlan {
                module: ctx.name.to_string(),
                state: ModuleState::Complete,
                from: ctx.recorded.and_then(|r| r.from.clone()),
                to: ctx.desired_version(),
                waves: Vec::new(),
                reason: String::new(),
                problems: Vec::new(),
                evidence: Vec::new(),
                deferred: Vec::new(),
                tolerated: Vec::new(),
                outside_window: Vec::new(),
                rollback: None,
            },
            changes: Vec::new(),
            set: BTreeMap::new(),
        }
    }
}

/// The failed pairs of applied waves within their budgets: listed, never hidden.
fn tolerated(record: &RolloutRecord, judged: &Judged) -> Vec<super::PairProblem> {
    record
        .waves
        .iter()
        .zip(&judged.tallies)
        .filter(|(wave, tally)| wave.applied && !tally.over_failures())
        .flat_map(|(_, tally)| tally.failed.iter().cloned())
        .collect()
}

fn context<'i, 'a>(
    inputs: &'i Inputs<'a>,
    health: &'i HealthByCluster<'a>,
    name: &'i str,
) -> Context<'i, 'a> {
    let fleet = inputs.renderer.fleet;
    let index = fleet.module_index(name);
    let module = index.map(|m| &fleet.modules[m]);
    let policy = match module {
        Some(module) => module.policy(&fleet.spec),
        None => fleet.spec.rollout.value.resolve(&RolloutPolicy::default()),
    };
    Context {
        inputs,
        health,
        name,
        module,
        index,
        policy,
        recorded: inputs.current.records.get(name),
    }
}

/// `paused: true`: nothing about the module changes.
fn paused(ctx: &Context<'_, '_>, pairs: &[Pair], mut step: Step) -> Outcome {
    step.plan.state = ModuleState::Paused;
    let pending = pairs.iter().filter(|p| p.pending()).count();
    step.plan.reason =
        format!("paused: {pending} cluster(s) differ from the desired state and wait");
    if let Some(record) = ctx.recorded {
        step.plan.waves = record_waves(record, pairs, |_| WaveStatus::Pending);
    }
    step.finish(RecordUpdate::Keep)
}
