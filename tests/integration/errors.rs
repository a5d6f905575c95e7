//! Every kind of bad input: a clear error with file, line and column, exit code 1, nothing
//! written.

use crate::support::Fleet;

const OCI: &str = "  version: \"1.0\"\n  source:\n    oci:\n      url: oci://example.com/app\n";

/// Validates and renders `fleet`: both must fail with exit code 1 and write nothing. Returns
/// the error text of `validate`.
#[track_caller]
fn rejected(fleet: &Fleet) -> String {
    let stderr = fleet.run(&["validate"]).failure(1);
    let out = fleet.path().join("out");
    let render = fleet
        .run(&["render", "--out", out.to_str().unwrap()])
        .failure(1);
    assert_eq!(render, stderr, "render reports what validate does");
    assert!(!out.exists(), "nothing is written on invalid input");
    stderr
}

#[test]
fn malformed_yaml() {
    let fleet = Fleet::new().file(
        "modules/app.yaml",
        "apiVersion: fleeet.dev/v1alpha1\nkind: Module\nmetadata:\n  name: app\n  labels: {a: b\n",
    );
    let err = rejected(&fleet);
    assert!(err.contains("modules/app.yaml:5:"), "{err}");
}

#[test]
fn unknown_field() {
    let fleet = Fleet::new().module(
        "app",
        &format!("{OCI}  selector: {{}}\n  valeus: {{a: b}}\n"),
    );
    let err = rejected(&fleet);
    assert!(
        err.contains("modules/app.yaml:11:3: unknown field `valeus`, expected one of"),
        "{err}"
    );
    assert!(err.contains("hint: a module has apiVersion"), "{err}");
}

#[test]
fn missing_required_field() {
    let fleet = Fleet::new().module("app", OCI);
    let err = rejected(&fleet);
    assert!(
        err.contains("modules/app.yaml:") && err.contains("missing field `selector`"),
        "{err}"
    );
}

#[test]
fn wrong_kind_and_api_version() {
    let fleet = Fleet::new()
        .file(
            "clusters/a.yaml",
            "apiVersion: fleeet.dev/v1\nkind: Cluster\nmetadata:\n  name: a\n",
        )
        .file(
            "modules/b.yaml",
            "apiVersion: fleeet.dev/v1alpha1\nkind: Modul\nmetadata:\n  name: b\n",
        );
    let err = rejected(&fleet);
    assert!(
        err.contains("clusters/a.yaml:1:13: unknown variant `fleeet.dev/v1`"),
        "{err}"
    );
    assert!(
        err.contains(
            "modules/b.yaml:2:7: unknown variant `Modul`, expected one of Module, BootstrapModule"
        ),
        "{err}"
    );
}

#[test]
fn duplicate_names() {
    let fleet = Fleet::new()
        .module("app", &format!("{OCI}  selector: {{}}\n"))
        .file(
            "modules/app-again.yaml",
            &format!("apiVersion: fleeet.dev/v1alpha1\nkind: BootstrapModule\nmetadata:\n  name: app\nspec:\n{OCI}  selector: {{}}\n"),
        )
        .cluster("a", "{}")
        .file("clusters/more.yaml", "apiVersion: fleeet.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: a\n");
    let err = rejected(&fleet);
    assert!(
        err.contains("modules/app.yaml:4:9: module \"app\" is defined twice"),
        "{err}"
    );
    assert!(err.contains("hint: the first definition is at"), "{err}");
    assert!(
        err.contains("clusters/more.yaml:4:9: cluster \"a\" is defined twice under clusters/"),
        "{err}"
    );
}

#[test]
fn invalid_and_path_like_names() {
    let fleet = Fleet::new()
        .file("clusters/a.yaml", "apiVersion: fleeet.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: ../../etc\n")
        .file("clusters/b.yaml", "apiVersion: fleeet.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: Prod_EU\n  labels: {\"bad key!\": x}\n")
        .module("app/x", &format!("{OCI}  selector: {{}}\n"));
    let err = rejected(&fleet);
    assert!(
        err.contains("clusters/a.yaml:4:9: cluster name \"../../etc\" contains '.'"),
        "{err}"
    );
    assert!(
        err.contains("clusters/b.yaml:4:9: cluster name \"Prod_EU\" contains 'P'"),
        "{err}"
    );
    assert!(err.contains("label key \"bad key!\""), "{err}");
    assert!(err.contains("module name \"app/x\" contains '/'"), "{err}");
    assert!(
        err.contains("hint: names become folder and Kubernetes object names"),
        "{err}"
    );
}

#[test]
fn bad_selectors() {
    let fleet = Fleet::new()
        .module("a", &format!("{OCI}  selector:\n    matchExpressions:\n      - {{key: env, operator: Contains, values: [x]}}\n"))
        .module("b", &format!("{OCI}  selector:\n    matchExpressions:\n      - {{key: env, operator: In}}\n      - {{key: tier, operator: Exists, values: [x]}}\n"));
    let err = rejected(&fleet);
    assert!(
        err.contains("modules/a.yaml:12:30: unknown variant `Contains`, expected one of In, NotIn, Exists, DoesNotExist"),
        "{err}"
    );
    assert!(err.contains("modules/b.yaml:11:5: spec.selector: matchExpressions on \"env\": operator In needs at least one value"), "{err}");
    assert!(err.contains("operator Exists takes no values"), "{err}");
}

#[test]
fn undefined_template_variables_name_the_value_and_the_clusters() {
    let fleet = Fleet::new().cluster("a", "{}").cluster("b", "{}").module(
        "app",
        &format!(
            "{OCI}  selector: {{}}\n  values:\n    host: \"{{{{ cluster.values.domain }}}}\"\n"
        ),
    );
    let err = rejected(&fleet);
    assert!(
        err.contains(
            "modules/app.yaml:12:11: host of module \"app\" on cluster a, b: undefined value"
        ),
        "{err}"
    );
    assert!(err.contains("hint: templates see cluster."), "{err}");
}

#[test]
fn template_syntax_errors() {
    let fleet = Fleet::new().module(
        "app",
        &format!("{OCI}  selector: {{}}\n  values:\n    host: \"{{{{ cluster.name \"\n"),
    );
    let err = rejected(&fleet);
    assert!(
        err.contains("modules/app.yaml:12:11: template syntax error in host:"),
        "{err}"
    );
}

#[test]
fn dependency_cycles() {
    let fleet = Fleet::new()
        .module("a", &format!("{OCI}  selector: {{}}\n  dependsOn: [b]\n"))
        .module("b", &format!("{OCI}  selector: {{}}\n  dependsOn: [c]\n"))
        .module("c", &format!("{OCI}  selector: {{}}\n  dependsOn: [a]\n"));
    let err = rejected(&fleet);
    assert!(
        err.contains("modules/a.yaml:11:15: dependency cycle: a -> b -> c -> a"),
        "{err}"
    );
    assert_eq!(
        err.matches("dependency cycle").count(),
        1,
        "one cycle, reported once: {err}"
    );
}

#[test]
fn bootstrap_modules_may_not_depend_on_modules() {
    let fleet = Fleet::new()
        .module("app", &format!("{OCI}  selector: {{}}\n"))
        .file(
            "modules/base.yaml",
            &format!("apiVersion: fleeet.dev/v1alpha1\nkind: BootstrapModule\nmetadata:\n  name: base\nspec:\n{OCI}  selector: {{}}\n  dependsOn: [app]\n"),
        );
    let err = rejected(&fleet);
    assert!(
        err.contains(
            "modules/base.yaml:11:15: bootstrap module \"base\" depends on module \"app\""
        ),
        "{err}"
    );
}

#[test]
fn depends_on_an_unknown_module() {
    let fleet = Fleet::new()
        .module("db", &format!("{OCI}  selector: {{}}\n"))
        .module(
            "web",
            &format!("{OCI}  selector: {{}}\n  dependsOn: [dbb]\n"),
        );
    let err = rejected(&fleet);
    assert!(err.contains("modules/web.yaml:11:15: dependsOn: there is no module \"dbb\"\n  hint: did you mean \"db\"?"), "{err}");
}

#[test]
fn depends_on_a_module_not_on_the_same_clusters() {
    let fleet = Fleet::new()
        .cluster("prod", "{env: prod}")
        .cluster("dev", "{env: dev}")
        .module(
            "db",
            &format!("{OCI}  selector: {{matchLabels: {{env: prod}}}}\n"),
        )
        .module(
            "app",
            &format!("{OCI}  selector: {{}}\n  dependsOn: [db]\n"),
        );
    let err = rejected(&fleet);
    assert!(
        err.contains("modules/app.yaml:11:15: module \"app\" depends on \"db\", which does not go to 1 cluster it goes to: dev"),
        "{err}"
    );
    assert!(
        err.contains(
            "hint: Flux would wait forever there: widen the selector of \"db\" (env=prod)"
        ),
        "{err}"
    );
}

#[test]
fn kustomize_values_must_be_strings() {
    let fleet = Fleet::new().cluster("a", "{}").module(
        "app",
        &format!("{OCI}  selector: {{}}\n  values:\n    resources: {{cpu: 1}}\n    bad-name: x\n"),
    );
    let err = rejected(&fleet);
    assert!(err.contains("modules/app.yaml:12:16: value \"resources\" is a map, but module \"app\" applies a kustomization"), "{err}");
    assert!(
        err.contains("value \"bad-name\" is not a substitution variable name"),
        "{err}"
    );
}

#[test]
fn values_from_must_name_a_value_file() {
    let fleet = Fleet::new().file("values/common.yaml", "a: 1\n").module(
        "app",
        &format!("{OCI}  selector: {{}}\n  valuesFrom: [values/comon.yaml, ../secrets.yaml]\n"),
    );
    let err = rejected(&fleet);
    assert!(err.contains("spec.valuesFrom: no value file \"values/comon.yaml\"\n  hint: the value files are: values/common.yaml"), "{err}");
    assert!(
        err.contains("spec.valuesFrom entry \"../secrets.yaml\" is not a file under values/"),
        "{err}"
    );
}

#[test]
fn source_urls_must_be_flux_urls() {
    let fleet = Fleet::new().module(
        "app",
        "  version: \"1.0\"\n  source:\n    git:\n      url: git@github.com:acme/app.git\n  selector: {}\n",
    );
    let err = rejected(&fleet);
    assert!(err.contains("modules/app.yaml:9:12: spec.source.git.url \"git@github.com:acme/app.git\" must start with https://, http://, ssh://"), "{err}");
    assert!(
        err.contains("hint: Flux needs SSH addresses as URLs: ssh://git@github.com/acme/app.git"),
        "{err}"
    );
}

#[test]
fn every_error_is_reported_not_only_the_first() {
    let fleet = Fleet::new()
        .file("clusters/a.yaml", "apiVersion: fleeet.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: a\nspec:\n  valuse: {}\n")
        .module("b", OCI)
        .module("c", &format!("{OCI}  selector: {{}}\n  dependsOn: [nope]\n"));
    let err = rejected(&fleet);
    assert!(err.contains("clusters/a.yaml:6:3"), "{err}");
    assert!(err.contains("modules/b.yaml:"), "{err}");
    assert!(err.contains("modules/c.yaml:11:15"), "{err}");
    assert!(err.ends_with("3 errors found\n"), "{err}");
}

#[test]
fn a_missing_fleet_file_or_directory() {
    let err = Fleet::empty().run(&["validate"]).failure(1);
    assert!(
        err.contains("fleet.yaml: not found: a fleet repository has a fleet.yaml at its root"),
        "{err}"
    );
    let err = Fleet::empty()
        .run(&["validate", "--fleet", "nowhere"])
        .failure(1);
    assert!(err.contains("nowhere is not a fleet repository"), "{err}");
}

#[test]
fn symbolic_links_are_not_followed() {
    let fleet = Fleet::new();
    std::os::unix::fs::symlink("/etc/hostname", fleet.path().join("values.yaml")).unwrap();
    std::fs::create_dir_all(fleet.path().join("values")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", fleet.path().join("values/passwd.yaml")).unwrap();
    let err = fleet.run(&["validate"]).failure(1);
    assert!(
        err.contains("values/passwd.yaml: is a symbolic link; fleeet does not follow links"),
        "{err}"
    );
}

/// A fleet whose `fleet.yaml` is `text` (with a module and a cluster, so the rest is valid).
fn with_fleet_file(text: &str) -> Fleet {
    Fleet::empty()
        .file("fleet.yaml", text)
        .cluster("a", "{}")
        .module("app", &format!("{OCI}  selector: {{}}\n"))
}

/// Every kind of error in `fleet.yaml` is reported at its place, never as a missing file.
#[test]
fn fleet_file_errors_name_their_place() {
    let head = "apiVersion: fleeet.dev/v1alpha1\nkind: Fleet\nmetadata:\n  name: acme\n";
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "an unknown field",
            format!("{head}spec:\n  rollout:\n    bakeTime: 5m\n    bogus: 1\n"),
            "fleet.yaml:8:5: unknown field `bogus`, expected one of",
        ),
        (
            "a bad duration",
            format!("{head}spec:\n  rollout:\n    bakeTime: banana\n"),
            "fleet.yaml:7:15: invalid duration \"banana\": expected a number and a unit",
        ),
        (
            "broken YAML",
            format!("{head}spec:\n  values: {{a: 1\n"),
            "fleet.yaml:6:11: unclosed bracket '{'",
        ),
        (
            "a wrong kind",
            "apiVersion: fleeet.dev/v1alpha1\nkind: Flet\nmetadata:\n  name: acme\n".into(),
            "fleet.yaml:2:7: unknown variant `Flet`, expected one of Fleet\n  hint: fleet.yaml holds one `kind: Fleet` document",
        ),
        (
            "a wrong apiVersion",
            "apiVersion: fleeet.dev/v2\nkind: Fleet\nmetadata:\n  name: acme\n".into(),
            "fleet.yaml:1:13: unknown variant `fleeet.dev/v2`",
        ),
        (
            "a missing field",
            "apiVersion: fleeet.dev/v1alpha1\nkind: Fleet\n".into(),
            "fleet.yaml:2:1: missing field `metadata`",
        ),
        (
            "a list instead of a map",
            "- apiVersion: fleeet.dev/v1alpha1\n".into(),
            "fleet.yaml:1:1: expected mapping start",
        ),
        (
            "a wrong type",
            format!("{head}spec:\n  health:\n    concurrency: many\n"),
            "fleet.yaml:7:5: invalid type: string \"many\", expected a whole number of at least 1",
        ),
        (
            "a wave's count not a number",
            format!("{head}spec:\n  rollout:\n    waves:\n      - name: one\n        count: few\n"),
            "fleet.yaml:9:9: invalid type: string \"few\", expected a whole number",
        ),
        (
            "a wave that cannot be",
            format!(
                "{head}spec:\n  rollout:\n    waves:\n      - name: one\n        percent: 250\n"
            ),
            "fleet.yaml:7:5: spec.rollout: wave \"one\": percent must be between 1 and 100, not 250",
        ),
        (
            "an invalid name",
            "apiVersion: fleeet.dev/v1alpha1\nkind: Fleet\nmetadata:\n  name: Acme_Fleet\n".into(),
            "fleet.yaml:4:9: fleet name \"Acme_Fleet\" contains 'A'",
        ),
        (
            "an invalid output path",
            format!("{head}spec:\n  output:\n    path: ../elsewhere\n"),
            "fleet.yaml:7:11: spec.output.path must be a plain relative path",
        ),
        (
            "an invalid branch",
            format!("{head}spec:\n  output:\n    branch: a..b\n"),
            "fleet.yaml:7:13: spec.output.branch \"a..b\" is not a valid git branch name",
        ),
        (
            "one branch for both",
            format!("{head}spec:\n  github:\n    branch: fleeet/rendered\n"),
            "fleet.yaml:7:13: spec.github.branch and spec.output.branch are both",
        ),
        (
            "two documents",
            format!("{head}---\n{head}"),
            "fleet.yaml:6:1: a second YAML document (---) where one is expected",
        ),
        (
            "a control character",
            format!("{head}spec:\n  rollout:\n    bakeTime: \"5\\u001bm\"\n"),
            "fleet.yaml:7:15: invalid duration \"5\\u{1b}m\"",
        ),
    ];
    for (what, text, expected) in cases {
        let err = rejected(&with_fleet_file(&text));
        assert!(
            err.contains(expected),
            "{what}: expected {expected:?} in\n{err}"
        );
        assert!(
            !err.contains("not found"),
            "{what}: fleet.yaml is there\n{err}"
        );
    }
}

/// An empty `fleet.yaml` is an error about its content, not a missing file.
#[test]
fn an_empty_fleet_file() {
    let err = rejected(&with_fleet_file(""));
    assert!(
        err.contains("fleet.yaml:1:1: unexpected end of input"),
        "{err}"
    );
    assert!(!err.contains("not found"), "{err}");
}

#[test]
fn bad_budgets_windows_and_time_zones() {
    for (rollout, at, message) in [
        (
            "    maxUnavailable: \"120%\"\n",
            "modules/app.yaml:12:21",
            "invalid budget",
        ),
        (
            "    windows:\n      - {start: \"25:00\", end: \"05:00\"}\n",
            "modules/app.yaml:13:17",
            "expected HH:MM",
        ),
        (
            "    windows:\n      - {start: \"02:00\", end: \"05:00\", timeZone: Europe/Pariss}\n",
            "modules/app.yaml:13:50",
            "unknown time zone",
        ),
        (
            "    windows:\n      - {days: [Monday], start: \"02:00\", end: \"05:00\"}\n",
            "modules/app.yaml:13:17",
            "unknown variant `Monday`",
        ),
    ] {
        let fleet = Fleet::new().module(
            "app",
            &format!("{OCI}  selector: {{}}\n  rollout:\n{rollout}"),
        );
        let err = rejected(&fleet);
        assert!(err.contains(at) && err.contains(message), "{err}");
    }
}
