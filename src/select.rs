//! Label selectors over clusters: which modules go to which clusters, and why.

use std::collections::BTreeMap;
use std::fmt;

use rayon::prelude::*;

use crate::diagnostic::{Diagnostic, Diagnostics, Origin};
use crate::model::{Fleet, LabelSelector, Operator, Requirement};

type Labels = BTreeMap<String, String>;

/// Whether `labels` satisfy every term of `selector`.
pub fn matches(selector: &LabelSelector, labels: &Labels) -> bool {
    selector
        .match_labels
        .iter()
        .all(|(k, v)| labels.get(k) == Some(v))
        && selector
            .match_expressions
            .iter()
            .all(|r| requirement_holds(r, labels))
}

fn requirement_holds(r: &Requirement, labels: &Labels) -> bool {
    let value = labels.get(&r.key);
    match r.operator {
        Operator::In => value.is_some_and(|v| r.values.contains(v)),
        Operator::NotIn => value.is_none_or(|v| !r.values.contains(v)),
        Operator::Exists => value.is_some(),
        Operator::DoesNotExist => value.is_none(),
    }
}

/// One term of a selector, checked against one cluster.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Term {
    /// The term in `kubectl` selector syntax, like `env in (prod,staging)`.
    pub term: String,
    pub matched: bool,
    /// The cluster's value of the term's label, if it has the label.
    pub actual: Option<String>,
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mark = if self.matched { "✓" } else { "✗" };
        match &self.actual {
            Some(v) => write!(f, "{mark} {} (cluster has {v:?})", self.term),
            None => write!(f, "{mark} {} (cluster has no such label)", self.term),
        }
    }
}

/// Every term of `selector` against `labels`: which held and which did not.
pub fn explain(selector: &LabelSelector, labels: &Labels) -> Vec<Term> {
    let labels_terms = selector.match_labels.iter().map(|(k, v)| Term {
        term: format!("{k}={v}"),
        matched: labels.get(k) == Some(v),
        actual: labels.get(k).cloned(),
    });
    let expression_terms = selector.match_expressions.iter().map(|r| Term {
        term: requirement_text(r),
        matched: requirement_holds(r, labels),
        actual: labels.get(&r.key).cloned(),
    });
    labels_terms.chain(expression_terms).collect()
}

/// A selector in `kubectl` syntax (`env=prod,tier in (a,b)`); `<all>` for the empty selector.
pub fn selector_text(selector: &LabelSelector) -> String {
    let terms: Vec<String> = selector
        .match_labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .chain(selector.match_expressions.iter().map(requirement_text))
        .collect();
    if terms.is_empty() {
        "<all>".into()
    } else {
        terms.join(",")
    }
}

fn requirement_text(r: &Requirement) -> String {
    match r.operator {
        Operator::In => format!("{} in ({})", r.key, r.values.join(",")),
        Operator::NotIn => format!("{} notin ({})", r.key, r.values.join(",")),
        Operator::Exists => r.key.clone(),
        Operator::DoesNotExist => format!("!{}", r.key),
    }
}

/// Which modules go to which clusters, by index into [`Fleet::modules`] and
/// [`Fleet::clusters`], each list ascending.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    pub clusters_of_module: Vec<Vec<usize>>,
    pub modules_of_cluster: Vec<Vec<usize>>,
}

impl Assignment {
    /// Whether module `m` goes to cluster `c`.
    pub fn has(&self, c: usize, m: usize) -> bool {
        self.modules_of_cluster[c].binary_search(&m).is_ok()
    }
}

/// Matches every module's selector against every cluster's labels.
pub fn assign(fleet: &Fleet) -> Assignment {
    let modules_of_cluster: Vec<Vec<usize>> = fleet
        .clusters
        .par_iter()
        .map(|cluster| {
            fleet
                .modules
                .iter()
                .enumerate()
                .filter(|(_, m)| matches(&m.spec.selector.value, &cluster.labels))
                .map(|(i, _)| i)
                .collect()
        })
        .collect();
    let mut clusters_of_module = vec![Vec::new(); fleet.modules.len()];
    for (c, modules) in modules_of_cluster.iter().enumerate() {
        for &m in modules {
            clusters_of_module[m].push(c);
        }
    }
    Assignment {
        clusters_of_module,
        modules_of_cluster,
    }
}

/// A module may depend only on modules that go to every cluster it goes to.
pub fn check_dependencies(fleet: &Fleet, assignment: &Assignment) -> Diagnostics {
    let mut out = Diagnostics::default();
    for (m, module) in fleet.modules.iter().enumerate() {
        for dep in &module.spec.depends_on {
            let Some(d) = fleet.module_index(&dep.value) else {
                continue; // reported when loading
            };
            let missing: Vec<&str> = assignment.clusters_of_module[m]
                .iter()
                .filter(|&&c| !assignment.has(c, d))
                .map(|&c| fleet.clusters[c].name.as_str())
                .collect();
            if missing.is_empty() {
                continue;
            }
            let shown: Vec<&str> = missing.iter().take(5).copied().collect();
            let more = missing.len().saturating_sub(shown.len());
            let clusters = if more > 0 {
                format!("{} and {more} more", shown.join(", "))
            } else {
                shown.join(", ")
            };
            out.push(
                Diagnostic::new(
                    Origin::of(&module.origin.file, dep),
                    format!(
                        "module {:?} depends on {:?}, which does not go to {} cluster{} it goes to: {clusters}",
                        module.name,
                        dep.value,
                        missing.len(),
                        if missing.len() == 1 { "" } else { "s" },
                    ),
                )
                .hint(format!(
                    "Flux would wait forever there: widen the selector of {:?} ({}) or narrow that of {:?} ({})",
                    dep.value,
                    selector_text(&fleet.modules[d].spec.selector.value),
                    module.name,
                    selector_text(&module.spec.selector.value),
                )),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn selector(yaml: &str) -> LabelSelector {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn operators_follow_kubernetes() {
        let prod = labels(&[("env", "prod"), ("tier", "1")]);
        let bare = labels(&[]);
        let cases = [
            ("{}", true, true),
            ("matchLabels: {env: prod}", true, false),
            (
                "matchExpressions: [{key: env, operator: In, values: [prod, dev]}]",
                true,
                false,
            ),
            (
                "matchExpressions: [{key: env, operator: NotIn, values: [prod]}]",
                false,
                true,
            ),
            (
                "matchExpressions: [{key: env, operator: Exists}]",
                true,
                false,
            ),
            (
                "matchExpressions: [{key: env, operator: DoesNotExist}]",
                false,
                true,
            ),
            (
                "{matchLabels: {env: prod}, matchExpressions: [{key: tier, operator: In, values: ['2']}]}",
                false,
                false,
            ),
        ];
        for (yaml, on_prod, on_bare) in cases {
            let s = selector(yaml);
            assert_eq!(matches(&s, &prod), on_prod, "{yaml} on prod");
            assert_eq!(matches(&s, &bare), on_bare, "{yaml} on bare");
        }
    }

    #[test]
    fn explains_each_term() {
        let s = selector(
            "{matchLabels: {env: prod}, matchExpressions: [{key: region, operator: NotIn, values: [us, eu]}]}",
        );
        let terms = explain(&s, &labels(&[("env", "prod"), ("region", "eu")]));
        assert_eq!(terms.len(), 2);
        assert_eq!(terms[0].to_string(), "✓ env=prod (cluster has \"prod\")");
        assert_eq!(
            terms[1].to_string(),
            "✗ region notin (us,eu) (cluster has \"eu\")"
        );
        assert_eq!(selector_text(&s), "env=prod,region notin (us,eu)");
    }

    fn arb_labels() -> impl Strategy<Value = Labels> {
        prop::collection::btree_map("[abc]", "[xyz]", 0..3)
    }

    fn arb_selector() -> impl Strategy<Value = LabelSelector> {
        let op = prop_oneof![
            Just(Operator::In),
            Just(Operator::NotIn),
            Just(Operator::Exists),
            Just(Operator::DoesNotExist)
        ];
        let req = ("[abc]", op, prop::collection::vec("[xyz]", 1..3)).prop_map(
            |(key, operator, values)| {
                let values = match operator {
                    Operator::In | Operator::NotIn => values,
                    _ => Vec::new(),
                };
                Requirement {
                    key,
                    operator,
                    values,
                }
            },
        );
        (
            prop::collection::btree_map("[abc]", "[xyz]", 0..2),
            prop::collection::vec(req, 0..3),
        )
            .prop_map(|(match_labels, match_expressions)| LabelSelector {
                match_labels,
                match_expressions,
            })
    }

    /// A reference evaluation written differently: the selector as a list of (key, allowed
    /// values or None for "absent") alternatives, checked by brute force.
    fn reference(selector: &LabelSelector, labels: &Labels) -> bool {
        let mut ok = true;
        for (k, v) in &selector.match_labels {
            ok &= labels.iter().any(|(lk, lv)| lk == k && lv == v);
        }
        for r in &selector.match_expressions {
            let present: Vec<&String> = labels
                .iter()
                .filter(|(k, _)| **k == r.key)
                .map(|(_, v)| v)
                .collect();
            ok &= match r.operator {
                Operator::In => present.iter().any(|v| r.values.iter().any(|x| x == *v)),
                Operator::NotIn => present.iter().all(|v| r.values.iter().all(|x| x != *v)),
                Operator::Exists => !present.is_empty(),
                Operator::DoesNotExist => present.is_empty(),
            };
        }
        ok
    }

    proptest! {
        #[test]
        fn matches_agrees_with_the_reference(s in arb_selector(), l in arb_labels()) {
            prop_assert_eq!(matches(&s, &l), reference(&s, &l));
        }

        #[test]
        fn a_selector_matches_exactly_when_every_explained_term_holds(s in arb_selector(), l in arb_labels()) {
            let terms = explain(&s, &l);
            prop_assert_eq!(terms.len(), s.match_labels.len() + s.match_expressions.len());
            prop_assert_eq!(matches(&s, &l), terms.iter().all(|t| t.matched));
        }
    }
}
