//! Label selectors: decoded from YAML as modules and waves write them, checked, shown, and
//! matched against labels.

#![no_main]

use std::collections::BTreeMap;

use fleeet::model::LabelSelector;
use libfuzzer_sys::fuzz_target;

#[derive(serde::Deserialize)]
struct Input {
    selector: LabelSelector,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(input) =
        serde_saphyr::from_str_with_options::<Input>(text, fleeet::load::yaml_options())
    else {
        return;
    };
    let selector = &input.selector;
    let problems = selector.problems();
    let text = fleeet::select::selector_text(selector);
    let matched = fleeet::select::matches(selector, &input.labels);
    let terms = fleeet::select::explain(selector, &input.labels);
    // A selector matches exactly when each of its terms holds.
    assert_eq!(matched, terms.iter().all(|t| t.matched), "{text}");
    for term in &terms {
        let _ = term.to_string();
    }
    let _ = problems;
});
