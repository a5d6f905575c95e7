//! The small commands: explain, bootstrap, schema, help.

use crate::support::{Fleet, example_fleet, run_in};

#[test]
fn explain_says_why_a_module_is_or_is_not_on_a_cluster() {
    let fleet = Fleet::example();
    let text = fleet.run(&["explain", "store-berlin-1"]).success();
    insta::assert_snapshot!(
        "explain_store_berlin_1",
        text.replace(&fleet.path().display().to_string(), "<fleet>")
    );

    let json = fleet
        .run(&["explain", "prod-eu-1", "ingress-nginx", "--format", "json"])
        .success();
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let module = &json["modules"][0];
    assert_eq!(module["selected"], true);
    assert_eq!(module["terms"][0]["term"], "tier notin (edge)");
    assert_eq!(module["values"]["controller"]["replicaCount"], 4);
    assert_eq!(
        module["dependsOn"],
        serde_json::json!(["cert-manager"]),
        "prod-eu-1 follows its folder only once platform-base is ready: no need to wait for it"
    );
    let json = fleet
        .run(&["explain", "prod-eu-1", "platform-base", "--format", "json"])
        .success();
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["modules"][0]["appliedFrom"], "mgmt");
    assert_eq!(json["modules"][0]["dependsOn"], serde_json::json!(["flux"]));

    let err = fleet
        .run(&["explain", "prod-eu-1", "ingres-nginx"])
        .failure(2);
    assert!(err.contains("did you mean \"ingress-nginx\"?"), "{err}");
}

#[test]
fn bootstrap_prints_what_a_new_cluster_applies() {
    let fleet = Fleet::example();
    let yaml = fleet
        .run(&[
            "bootstrap",
            "prod-us-1",
            "--url",
            "https://github.com/acme/fleet",
            "--secret-ref",
            "fleet-auth",
        ])
        .success();
    insta::assert_snapshot!("bootstrap_prod_us_1", yaml);
    let err = fleet
        .run(&[
            "bootstrap",
            "prod-us-1",
            "--url",
            "git@github.com:acme/fleet",
        ])
        .failure(2);
    assert!(err.contains("is not a URL Flux can clone"), "{err}");
}

#[test]
fn the_checked_in_schemas_are_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("schemas");
    run_in(dir.path(), &["schema", "--out", out.to_str().unwrap()]).success();
    let checked_in = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    for name in ["fleet.json", "cluster.json", "module.json"] {
        let fresh = std::fs::read_to_string(out.join(name)).unwrap();
        let current = std::fs::read_to_string(checked_in.join(name)).unwrap_or_default();
        assert!(
            fresh == current,
            "schemas/{name} is stale: run `cargo run -- schema --out schemas`"
        );
    }
}

#[test]
fn the_schemas_accept_every_example_file() {
    let schemas = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let load = |name: &str| {
        let text = std::fs::read_to_string(schemas.join(name)).unwrap();
        jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
    };
    let (fleet, cluster, module) = (
        load("fleet.json"),
        load("cluster.json"),
        load("module.json"),
    );
    let mut checked = 0;
    for entry in walkdir::WalkDir::new(example_fleet()) {
        let entry = entry.unwrap();
        let path = entry.path();
        let relative = path
            .strip_prefix(example_fleet())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let validator = match relative.split('/').next().unwrap() {
            "fleet.yaml" => &fleet,
            "clusters" | "inventory" if path.is_file() => &cluster,
            "modules" if path.is_file() => &module,
            _ => continue,
        };
        let text = std::fs::read_to_string(path).unwrap();
        let doc: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{relative}: {errors:?}");
        if !relative.starts_with("inventory") {
            assert!(
                text.starts_with("# yaml-language-server: $schema="),
                "{relative} names its schema for editors"
            );
        }
        checked += 1;
    }
    assert!(checked >= 19, "{checked} files checked");
}

#[test]
fn the_schema_rejects_what_the_loader_rejects() {
    let schemas = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let text = std::fs::read_to_string(schemas.join("module.json")).unwrap();
    let validator = jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap();
    let bad = serde_json::json!({
        "apiVersion": "fleeet.dev/v1alpha1", "kind": "Module", "metadata": {"name": "x"},
        "spec": {"version": "1", "source": {"oci": {"url": "oci://x"}}, "selector": {}, "valeus": {}}
    });
    assert!(
        !validator.is_valid(&bad),
        "unknown fields are errors in the schema too"
    );
}

#[test]
fn explain_says_when_a_pair_waits_for_its_window() {
    let fleet = Fleet::example();
    let nothing = fleet.path().join("nothing-rendered");
    let args = [
        "explain",
        "store-austin-1",
        "store-agent",
        "--current-dir",
        nothing.to_str().unwrap(),
        "--now",
        "2026-11-21T12:00:00Z",
    ];
    let text = fleet.run(&args).success();
    // Saturday noon UTC; the store's next night window is Monday 02:00 in Chicago.
    assert!(
        text.contains("  window:   closed, opens 2026-11-23T08:00:00Z"),
        "{text}"
    );
    let mut json_args = args.to_vec();
    json_args.extend(["--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&fleet.run(&json_args).success()).unwrap();
    let rollout = &json["modules"][0]["rollout"];
    assert_eq!(rollout["window"]["opens"], "2026-11-23T08:00:00Z", "{json}");
}

#[test]
fn help_teaches_with_examples() {
    let dir = tempfile::tempdir().unwrap();
    let help = run_in(dir.path(), &["--help"]).success();
    for command in [
        "validate",
        "render",
        "explain",
        "bootstrap",
        "plan",
        "schema",
    ] {
        assert!(help.contains(command), "{command} missing from --help");
    }
    assert!(help.contains("Examples:"));
    let help = run_in(dir.path(), &["render", "--help"]).success();
    assert!(
        help.contains("--out <DIR>") && help.contains("Examples:"),
        "{help}"
    );
}

/// Completes `words` (the last one being typed) with the bash script of `fleeet completions`.
fn bash_completes(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let words: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'\nCOMP_WORDS=({})\nCOMP_CWORD={}\nCOMP_LINE=\"${{COMP_WORDS[*]}}\"\nCOMP_POINT=${{#COMP_LINE}}\n_fleeet fleeet \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        words.join(" "),
        words.len() - 1
    );
    let out = std::process::Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn completions_for_every_shell_complete_commands_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let bash = run_in(dir.path(), &["completions", "bash"]).success();
    let script = dir.path().join("fleeet.bash");
    std::fs::write(&script, &bash).unwrap();
    assert_eq!(bash_completes(&script, &["fleeet", "rec"]), ["reconcile"]);
    assert_eq!(
        bash_completes(&script, &["fleeet", "status", "--sh"]),
        ["--shard"]
    );
    let shells = bash_completes(&script, &["fleeet", "completions", ""]);
    for shell in ["bash", "zsh", "fish", "powershell"] {
        assert!(shells.iter().any(|s| s == shell), "{shells:?}");
    }

    let zsh = run_in(dir.path(), &["completions", "zsh"]).success();
    assert!(zsh.starts_with("#compdef fleeet"), "{zsh}");
    assert!(
        zsh.contains("'--shard=[") && zsh.contains("(reconcile)"),
        "{zsh}"
    );
    let fish = run_in(dir.path(), &["completions", "fish"]).success();
    assert!(
        fish.contains("complete -c fleeet -n \"__fish_fleeet_using_subcommand status\" -l shard"),
        "{fish}"
    );
    let powershell = run_in(dir.path(), &["completions", "powershell"]).success();
    assert!(
        powershell.contains("Register-ArgumentCompleter -Native -CommandName 'fleeet'"),
        "{powershell}"
    );
    assert!(powershell.contains("'fleeet;reconcile'"), "{powershell}");

    let err = run_in(dir.path(), &["completions", "tcsh"]).failure(2);
    assert!(err.contains("invalid value 'tcsh'"), "{err}");
}

#[test]
fn the_man_page_renders_and_one_page_per_command_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let page = run_in(dir.path(), &["man"]).success();
    assert!(page.contains(".TH fleeet 1"), "{page}");
    let file = dir.path().join("fleeet.1");
    std::fs::write(&file, &page).unwrap();
    let rendered = std::process::Command::new("man")
        .arg("-l")
        .arg(&file)
        .env("MANWIDTH", "100")
        .env("MAN_KEEP_FORMATTING", "0")
        .env("PAGER", "cat")
        .output();
    if let Some(out) = rendered.ok().filter(|o| o.status.success()) {
        // Without a terminal, man still marks bold text by overstriking: "N\bN".
        let mut text = String::new();
        for c in String::from_utf8_lossy(&out.stdout).chars() {
            match c {
                '\u{8}' => drop(text.pop()),
                c => text.push(c),
            }
        }
        assert!(text.contains("NAME\n       fleeet"), "{text}");
        assert!(
            text.contains("Render and roll out per-cluster Flux configuration"),
            "{text}"
        );
        assert!(text.contains("fleeet-reconcile(1)"), "{text}");
    }

    let out = dir.path().join("man1");
    run_in(dir.path(), &["man", "--out", out.to_str().unwrap()]).success();
    let reconcile = std::fs::read_to_string(out.join("fleeet-reconcile.1")).unwrap();
    assert!(reconcile.contains(".TH fleeet-reconcile 1"), "{reconcile}");
    assert!(
        reconcile.contains("GITHUB_TOKEN"),
        "the page carries the command's help"
    );
    assert!(out.join("fleeet-inventory-sync.1").exists());
    assert!(out.join("fleeet-status.1").exists());
}
