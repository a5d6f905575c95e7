//! Templates with hostile input: syntax, runaway loops (fuel), recursion, huge output. Every
//! outcome is a value or an error, within the limits of `fleeet::template`.
//!
//! One step of a template may allocate what minijinja allows (a string repeated to 100 MB, a
//! list repeated to 100 million items, about 2.4 GB): a documented limit (SECURITY.md), above
//! libFuzzer's 2 GiB. Inputs that only reach it, with a repeat count of seven digits or more
//! or a power, are skipped.

#![no_main]

use fleeet::diagnostic::Origin;
use fleeet::template::{MAX_OUTPUT, Text, cluster_context, context, sandbox};
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| common::as_the_binary(|| run(data)));

fn run(data: &[u8]) {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let long_number = source
        .split(|c: char| !c.is_ascii_digit())
        .any(|digits| digits.trim_start_matches('0').len() >= 7);
    if long_number || source.contains("**") {
        return;
    }
    let env = sandbox();
    let Ok(text) = Text::compile(&env, source, Origin::file(&"m.yaml".into()), "x".into()) else {
        return;
    };
    let (renderer, _) = common::example();
    let fleet = renderer.fleet;
    let cluster = cluster_context(&fleet.clusters[0]);
    let ctx = context(
        &cluster,
        "ingress-nginx",
        "4.11.3",
        &fleeet::template::fleet_context(fleet),
    );
    if let Ok(value) = text.render(&ctx) {
        let size = match &value {
            serde_json::Value::String(s) => s.len(),
            other => other.to_string().len(),
        };
        assert!(size <= MAX_OUTPUT, "{size} bytes");
    }
}
