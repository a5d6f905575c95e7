//! The rendered branch as fleeet reads it back (possibly edited by hand): files understood as
//! pointers and rollout records, the rest kept; then a plan of the example fleet against it.
//!
//! The input is `path\0content\0path\0content...`.

#![no_main]

mod common;

use fleeet::content::Content;
use fleeet::layout::{self, Files};
use fleeet::rollout::{self, CurrentState, Inputs, RolloutRecord};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| common::as_the_binary(|| run(data)));

fn run(data: &[u8]) {
    let Some(parts) = common::parts(data) else {
        return;
    };
    let files: Files = parts
        .chunks(2)
        .map(|pair| {
            let content = Content::new(pair.get(1).copied().unwrap_or_default());
            (pair[0].to_string(), content)
        })
        .collect();
    for text in files.values().filter_map(Content::text) {
        let _ = layout::pointer_version(text);
        let _ = RolloutRecord::parse("record.yaml", text);
    }
    let current = CurrentState::from_files(files.clone(), "clusters", &Default::default());
    // Nothing is dropped: every file is written back, changed only if fleeet regenerates it.
    let back = layout::branch_files(&current.branch, "clusters");
    for (path, content) in &files {
        let kept = back
            .get(path)
            .unwrap_or_else(|| panic!("{path} was dropped"));
        assert!(
            kept == content || path.ends_with(layout::KUSTOMIZATION),
            "{path} was changed"
        );
    }
    let (renderer, desired) = common::example();
    let plan = rollout::plan(&Inputs {
        renderer,
        desired,
        current: &current,
        health: None,
        now: "2026-11-21T09:00:00Z".parse().unwrap(),
    });
    let _ = fleeet::report::plan_table(&plan, false);
    let _ = fleeet::report::plan_markdown(&plan);
    let _ = layout::branch_files(&plan.next, "clusters");
}
