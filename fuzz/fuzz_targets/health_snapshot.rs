//! Health snapshots (`--health FILE`, `fleeet status --save`): parsed, judged, and written
//! back in a form that parses to the same snapshot.

#![no_main]

use fleeet::health::HealthSnapshot;
use fleeet::health::kstatus;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let snapshot = match HealthSnapshot::parse("health.yaml", text) {
        Ok(snapshot) => snapshot,
        Err(diagnostics) => {
            let _ = diagnostics.to_string();
            return;
        }
    };
    for (name, cluster) in &snapshot.clusters {
        let _ = name;
        for (module, health) in &cluster.modules {
            let revision = health.revision.clone().unwrap_or_default();
            let _ = kstatus::status(Some(cluster), module, &revision);
            let _ = kstatus::absent(Some(cluster), module);
            let _ = kstatus::at_revision(&revision, "1.0.0");
        }
    }
    let written = snapshot.to_yaml();
    let back = HealthSnapshot::parse("again.yaml", &written)
        .unwrap_or_else(|e| panic!("a written snapshot reads back: {e}\n{written}"));
    assert_eq!(back, snapshot, "{written}");
});
