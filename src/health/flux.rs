//! Module health from the status of Flux objects (`kustomize.toolkit.fluxcd.io/v1`
//! Kustomization, `helm.toolkit.fluxcd.io/v2` HelmRelease), as kstatus reads them.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{ModuleHealth, ModulesHealth};
use crate::management::CLUSTER_LABEL;
use crate::render::flux::MODULE_LABEL;

/// The health of each module found among one cluster's Flux objects (labelled with
/// `fleeet.dev/module`). A helm module (named in `helm_modules`) is judged by its HelmRelease,
/// whose revision is the chart version it runs, unless its wrapper Kustomization reports a
/// problem (then that shows, with the chart version); without a HelmRelease it is not ready.
/// Any other module is judged by its Kustomization, whose revision is the one last applied.
pub fn modules(
    kustomizations: &[Value],
    helm_releases: &[Value],
    helm_modules: &BTreeSet<String>,
) -> ModulesHealth {
    let releases: BTreeMap<&str, &Value> = helm_releases
        .iter()
        .filter_map(|r| Some((module_of(r)?, r)))
        .collect();
    let mut modules = ModulesHealth::new();
    // Objects labelled with a cluster bootstrap that other cluster (see `bootstrap`).
    for kustomization in kustomizations.iter().filter(|k| cluster_of(k).is_none()) {
        let Some(module) = module_of(kustomization) else {
            continue;
        };
        let wrapper = health(
            kustomization,
            string(&kustomization["status"]["lastAppliedRevision"]),
        );
        let judged = if helm_modules.contains(module) {
            match releases.get(module) {
                Some(release) if !failed(kustomization) => health(release, chart_version(release)),
                Some(release) => ModuleHealth {
                    revision: chart_version(release).map(Into::into),
                    ..wrapper
                },
                None => ModuleHealth {
                    ready: false,
                    revision: None,
                    ..wrapper
                },
            }
        } else {
            wrapper
        };
        modules.insert(module.into(), judged);
    }
    modules
}

/// The health of the bootstrap modules the management cluster applies to other clusters, by
/// cluster and module, from its Kustomizations labelled with both (`fleeet.dev/cluster`,
/// `fleeet.dev/module`); their revision is the one last applied.
pub fn bootstrap(kustomizations: &[Value]) -> BTreeMap<String, ModulesHealth> {
    let mut clusters: BTreeMap<String, ModulesHealth> = BTreeMap::new();
    for kustomization in kustomizations {
        if let (Some(cluster), Some(module)) = (cluster_of(kustomization), module_of(kustomization))
        {
            let revision = string(&kustomization["status"]["lastAppliedRevision"]);
            clusters
                .entry(cluster.to_string())
                .or_default()
                .insert(module.into(), health(kustomization, revision));
        }
    }
    clusters
}

/// The health of one Flux object whose revision is `revision`. It is ready only when its
/// `Ready` condition is `True` for its current generation.
///
/// The generation observed is the one the `Ready` condition states (Flux writes it into each
/// condition), else `status.observedGeneration`: kustomize-controller leaves the latter at `-1`
/// while an object has never reconciled successfully, though its failure is current.
pub fn health(object: &Value, revision: Option<String>) -> ModuleHealth {
    let status = &object["status"];
    let ready = condition(status, "Ready");
    let generation = object["metadata"]["generation"].as_i64();
    let observed_generation = ready
        .and_then(|c| c["observedGeneration"].as_i64())
        .or_else(|| status["observedGeneration"].as_i64());
    let current = match (generation, observed_generation) {
        (Some(g), Some(o)) => o >= g,
        (Some(_), None) => false,
        (None, _) => true,
    };
    ModuleHealth {
        ready: current && ready.is_some_and(|c| c["status"] == "True"),
        revision: revision.map(Into::into),
        since: ready.and_then(|c| c["lastTransitionTime"].as_str()?.parse().ok()),
        reason: ready.and_then(|c| string(&c["reason"])).map(Into::into),
        message: ready
            .and_then(|c| c["message"].as_str())
            .unwrap_or_default()
            .trim()
            .into(),
        stalled: condition(status, "Stalled").is_some_and(|c| c["status"] == "True"),
        generation,
        observed_generation,
    }
}

/// Whether an object reports a problem: `Stalled`, or `Ready=False` (a failure, or waiting for
/// a dependency).
fn failed(object: &Value) -> bool {
    let status = &object["status"];
    let is = |kind, value| condition(status, kind).is_some_and(|c| c["status"] == value);
    is("Stalled", "True") || is("Ready", "False")
}

/// The chart version a HelmRelease runs: its latest release, else the one last attempted.
fn chart_version(release: &Value) -> Option<String> {
    let status = &release["status"];
    string(&status["history"][0]["chartVersion"])
        .or_else(|| string(&status["lastAttemptedRevision"]))
}

fn module_of(object: &Value) -> Option<&str> {
    object["metadata"]["labels"][MODULE_LABEL].as_str()
}

fn cluster_of(object: &Value) -> Option<&str> {
    object["metadata"]["labels"][CLUSTER_LABEL].as_str()
}

fn condition<'a>(status: &'a Value, kind: &str) -> Option<&'a Value> {
    status["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

fn string(value: &Value) -> Option<String> {
    value.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(module: &str, ready: &str, reason: &str, extra: Value) -> Value {
        let mut status = json!({
            "conditions": [{"type": "Ready", "status": ready, "reason": reason, "message": reason,
                            "lastTransitionTime": "2026-11-21T09:40:00Z"}],
            "observedGeneration": 1
        });
        if let (Some(s), Some(e)) = (status.as_object_mut(), extra.as_object()) {
            s.extend(e.clone());
        }
        json!({"metadata": {"name": module, "generation": 1,
                            "labels": {"fleeet.dev/module": module}},
               "status": status})
    }

    fn helm() -> BTreeSet<String> {
        BTreeSet::from(["monitoring".to_string()])
    }

    #[test]
    fn messages_are_kept_without_the_line_break_kustomize_controller_ends_them_with() {
        // As kustomize-controller v1.9 reports an object the API server refused.
        let message = "Service/default/hello dry-run failed (Invalid): Service \"hello\" is invalid: \
                       [spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive]\n";
        let mut failing = object("hello", "False", "ReconciliationFailed", json!({}));
        failing["status"]["conditions"][0]["message"] = json!(message);
        let health = health(&failing, None);
        assert_eq!(health.message, message.trim_end());
        assert!(!health.ready);
    }

    #[test]
    fn a_first_reconciliation_that_failed_is_current_though_status_says_generation_minus_one() {
        // kustomize-controller v1.9.6, a Kustomization that never applied.
        let failing = json!({
            "metadata": {"name": "hello", "generation": 1, "labels": {"fleeet.dev/module": "hello"}},
            "status": {
                "observedGeneration": -1,
                "conditions": [
                    {"type": "Reconciling", "status": "True", "reason": "ProgressingWithRetry",
                     "observedGeneration": 1, "lastTransitionTime": "2026-12-01T22:02:07Z"},
                    {"type": "Ready", "status": "False", "reason": "ReconciliationFailed",
                     "message": "ConfigMap/hello namespace not specified\n", "observedGeneration": 1,
                     "lastTransitionTime": "2026-12-01T22:02:07Z"},
                ],
            },
        });
        let health = health(&failing, None);
        assert_eq!(health.observed_generation, Some(1));
        assert_eq!(crate::health::kstatus::word(&health), "failed");
    }

    #[test]
    fn a_ready_condition_of_an_older_generation_is_stale() {
        let mut stale = object("hello", "True", "ReconciliationSucceeded", json!({}));
        stale["metadata"]["generation"] = json!(2);
        stale["status"]["observedGeneration"] = json!(2);
        stale["status"]["conditions"][0]["observedGeneration"] = json!(1);
        let health = health(&stale, None);
        assert!(!health.ready);
        assert_eq!(crate::health::kstatus::word(&health), "progressing");
    }

    #[test]
    fn helm_modules_are_judged_by_their_release_unless_the_wrapper_fails() {
        let wrapper = object(
            "monitoring",
            "True",
            "ReconciliationSucceeded",
            json!({"lastAppliedRevision": "fleeet/rendered@sha1:1"}),
        );
        let release = object(
            "monitoring",
            "True",
            "UpgradeSucceeded",
            json!({"history": [{"chartVersion": "61.3.0"}]}),
        );
        let found = modules(&[wrapper], std::slice::from_ref(&release), &helm());
        assert_eq!(
            found.get("monitoring").unwrap().revision.as_deref(),
            Some("61.3.0")
        );
        assert_eq!(
            found.get("monitoring").unwrap().reason.as_deref(),
            Some("UpgradeSucceeded")
        );

        let waiting = object("monitoring", "False", "DependencyNotReady", json!({}));
        let found = modules(&[waiting], &[release], &helm());
        assert!(!found.get("monitoring").unwrap().ready);
        assert_eq!(
            found.get("monitoring").unwrap().reason.as_deref(),
            Some("DependencyNotReady")
        );
        assert_eq!(
            found.get("monitoring").unwrap().revision.as_deref(),
            Some("61.3.0")
        );
    }

    #[test]
    fn a_helm_module_without_its_release_is_not_ready() {
        let wrapper = object(
            "monitoring",
            "True",
            "ReconciliationSucceeded",
            json!({"lastAppliedRevision": "fleeet/rendered@sha1:1"}),
        );
        let found = modules(std::slice::from_ref(&wrapper), &[], &helm());
        assert!(!found.get("monitoring").unwrap().ready);
        assert_eq!(found.get("monitoring").unwrap().revision, None);
        let found = modules(&[wrapper], &[], &BTreeSet::new());
        assert!(
            found.get("monitoring").unwrap().ready,
            "a git module is its Kustomization"
        );
    }

    #[test]
    fn remote_kustomizations_count_for_the_cluster_they_bootstrap() {
        let mut remote = object(
            "flux",
            "True",
            "ReconciliationSucceeded",
            json!({"lastAppliedRevision": "v2.6.0@sha1:1"}),
        );
        remote["metadata"]["labels"]["fleeet.dev/cluster"] = json!("prod-eu-1");
        let own = object("flux", "False", "BuildFailed", json!({}));
        let both = [remote, own];
        let seen = bootstrap(&both);
        assert_eq!(seen.len(), 1);
        let flux = &seen["prod-eu-1"].get("flux").unwrap();
        assert!(flux.ready);
        assert_eq!(flux.revision.as_deref(), Some("v2.6.0@sha1:1"));
        // The management cluster's own module of the same name is judged by its own object.
        let mine = modules(&both, &[], &BTreeSet::new());
        assert_eq!(
            mine.get("flux").unwrap().reason.as_deref(),
            Some("BuildFailed")
        );
    }

    #[test]
    fn a_release_without_history_reports_the_chart_it_attempted() {
        let release = object(
            "m",
            "False",
            "InstallFailed",
            json!({"lastAttemptedRevision": "1.0.0"}),
        );
        assert_eq!(chart_version(&release).as_deref(), Some("1.0.0"));
        let unlabelled = json!({"metadata": {"name": "x"}, "status": {}});
        assert!(modules(&[unlabelled], &[], &helm()).is_empty());
    }
}
