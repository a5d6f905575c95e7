//! Templated values: minijinja in a sandbox, compiled once per module, rendered per cluster.
//!
//! Any string value may be a template. A string that is exactly one `{{ expression }}` keeps the
//! expression's type, so `replicas: "{{ cluster.values.replicas }}"` stays a number and
//! `resources: "{{ cluster.values.resources }}"` can pass a whole map. Templates see only the
//! context ([`context`]): no files, no network, no environment, no other templates; undefined
//! names are errors, and a runaway template runs out of fuel.

use std::collections::BTreeMap;
use std::sync::Arc;

use minijinja::{Environment, Expression, Template, UndefinedBehavior, context};
use serde::Serialize;

use crate::diagnostic::{Diagnostic, Diagnostics, Origin};
use crate::model::{Cluster, Fleet, JsonMap, Value, ValueMap};

/// Instructions a template may run for one cluster before it is stopped.
pub const FUEL: u64 = 50_000;
/// The longest text a template may produce.
pub const MAX_OUTPUT: usize = 64 * 1024;

/// A minijinja environment with no loader, strict undefined names and a fuel limit.
pub fn sandbox<'source>() -> Environment<'source> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(64);
    env
}

/// Whether `text` uses template syntax at all.
pub fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%") || text.contains("{#")
}

/// A string value, compiled.
pub struct Text<'env> {
    kind: TextKind<'env>,
    /// Where the string is written.
    pub origin: Origin,
    /// Where the string is in the values, like `ingress.host`.
    pub path: String,
}

enum TextKind<'env> {
    Template(Template<'env, 'env>),
    Expression(Expression<'env, 'env>),
}

/// A value tree, compiled: literals kept as they are, strings with template syntax compiled.
pub enum Node<'env> {
    Literal(serde_json::Value),
    Text(Text<'env>),
    List(Vec<Node<'env>>),
    Map(BTreeMap<String, Node<'env>>),
}

/// A template that failed for one cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateError {
    pub origin: Origin,
    pub path: String,
    pub message: String,
}

impl<'env> Text<'env> {
    /// Compiles `source`, written at `origin` and found at `path` in the values.
    pub fn compile(
        env: &'env Environment<'env>,
        source: &'env str,
        origin: Origin,
        path: String,
    ) -> Result<Text<'env>, Diagnostic> {
        let kind = match single_expression(source) {
            Some(expr) => env.compile_expression(expr).map(TextKind::Expression),
            None => env.template_from_str(source).map(TextKind::Template),
        };
        match kind {
            Ok(kind) => Ok(Text { kind, origin, path }),
            Err(e) => Err(Diagnostic::new(
                origin,
                format!("template syntax error in {path}: {}", error_text(&e)),
            )
            .hint(
                "templates use minijinja (Jinja2) syntax, like \"{{ cluster.name }}.example.com\"",
            )),
        }
    }

    /// Renders for one cluster.
    pub fn render(&self, ctx: &minijinja::Value) -> Result<serde_json::Value, TemplateError> {
        let fail = |message: String| TemplateError {
            origin: self.origin.clone(),
            path: self.path.clone(),
            message,
        };
        let value = match &self.kind {
            TextKind::Template(t) => {
                // Written through a bounded buffer: printing a huge value stops at the limit.
                let mut out = Bounded(Vec::new());
                match t.render_captured_to(ctx.clone(), &mut out) {
                    Ok(_) => {}
                    Err(_) if out.0.len() == MAX_OUTPUT + 1 => return Err(fail(too_long())),
                    Err(e) => return Err(fail(error_text(&e))),
                }
                let text = String::from_utf8(out.0).map_err(|e| fail(e.to_string()))?;
                serde_json::Value::String(text)
            }
            TextKind::Expression(e) => {
                let value = e.eval(ctx).map_err(|e| fail(error_text(&e)))?;
                if value.is_undefined() {
                    return Err(fail("undefined value".into()));
                }
                // A list repeated a million times is cheap for minijinja and not for JSON.
                if !fits(&value, &mut MAX_OUTPUT.clone()) {
                    return Err(fail(too_long()));
                }
                serde_json::to_value(&value).map_err(|e| fail(e.to_string()))?
            }
        };
        let size = match &value {
            serde_json::Value::String(s) => s.len(),
            other => other.to_string().len(),
        };
        if size > MAX_OUTPUT {
            return Err(fail(format!(
                "the result is {size} bytes long; at most {MAX_OUTPUT} are allowed"
            )));
        }
        Ok(value)
    }
}

fn too_long() -> String {
    format!("the result is more than {MAX_OUTPUT} bytes long; at most {MAX_OUTPUT} are allowed")
}

/// A buffer that refuses to grow past [`MAX_OUTPUT`]; a refused write leaves it one byte over,
/// so the caller can tell.
struct Bounded(Vec<u8>);

impl std::io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + buf.len() > MAX_OUTPUT {
            self.0.resize(MAX_OUTPUT + 1, 0);
            return Err(std::io::Error::other("too long"));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Whether `value` may fit in `budget` bytes of JSON: each item counts at least one byte and
/// each string its length. Stops as soon as the budget is spent.
fn fits(value: &minijinja::Value, budget: &mut usize) -> bool {
    let cost = value.as_str().map_or(1, str::len);
    if cost > *budget {
        return false;
    }
    *budget -= cost;
    if value.as_str().is_some() {
        return true;
    }
    let Ok(items) = value.try_iter() else {
        return true;
    };
    let is_map = value.kind() == minijinja::value::ValueKind::Map;
    for item in items {
        if !fits(&item, budget) {
            return false;
        }
        if is_map && !value.get_item(&item).is_ok_and(|v| fits(&v, budget)) {
            return false;
        }
    }
    true
}

/// The inner expression of a string that is exactly one `{{ ... }}`.
fn single_expression(source: &str) -> Option<&str> {
    let inner = source.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    if inner.contains("{{") || inner.contains("}}") || inner.contains("{%") || inner.contains("{#")
    {
        None
    } else {
        Some(inner.trim())
    }
}

fn error_text(e: &minijinja::Error) -> String {
    let mut text = e
        .detail()
        .map_or_else(|| e.kind().to_string(), str::to_string);
    if e.kind() == minijinja::ErrorKind::UndefinedError {
        text = match e.detail() {
            Some(detail) => format!("undefined value: {detail}"),
            None => "undefined value".to_string(),
        };
    }
    if e.kind() == minijinja::ErrorKind::OutOfFuel {
        text = format!("the template ran too long (more than {FUEL} steps) and was stopped");
    }
    text
}

impl<'env> Node<'env> {
    /// Compiles every string of `values` (read from `file`).
    pub fn compile_map(
        env: &'env Environment<'env>,
        file: &Arc<str>,
        values: &'env ValueMap,
        prefix: &str,
        out: &mut Diagnostics,
    ) -> BTreeMap<String, Node<'env>> {
        values
            .iter()
            .map(|(key, value)| {
                let path = join(prefix, key);
                let origin = Origin::of(file, value);
                (
                    key.clone(),
                    Node::compile(env, file, &value.value, origin, path, out),
                )
            })
            .collect()
    }

    fn compile(
        env: &'env Environment<'env>,
        file: &Arc<str>,
        value: &'env Value,
        origin: Origin,
        path: String,
        out: &mut Diagnostics,
    ) -> Node<'env> {
        match value {
            Value::String(s) if is_template(s) => match Text::compile(env, s, origin, path) {
                Ok(text) => Node::Text(text),
                Err(d) => {
                    out.push(d);
                    Node::Literal(serde_json::Value::Null)
                }
            },
            Value::List(items) => Node::List(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let origin = Origin::of(file, item);
                        Node::compile(env, file, &item.value, origin, format!("{path}[{i}]"), out)
                    })
                    .collect(),
            ),
            Value::Map(map) => Node::Map(Node::compile_map(env, file, map, &path, out)),
            other => Node::Literal(other.to_json()),
        }
    }

    /// Renders for one cluster.
    pub fn render(&self, ctx: &minijinja::Value) -> Result<serde_json::Value, TemplateError> {
        Ok(match self {
            Node::Literal(value) => value.clone(),
            Node::Text(text) => text.render(ctx)?,
            Node::List(items) => items
                .iter()
                .map(|i| i.render(ctx))
                .collect::<Result<_, _>>()?,
            Node::Map(map) => serde_json::Value::Object(render_map(map, ctx)?),
        })
    }
}

/// Renders a compiled map for one cluster.
pub fn render_map(
    map: &BTreeMap<String, Node<'_>>,
    ctx: &minijinja::Value,
) -> Result<JsonMap, TemplateError> {
    map.iter()
        .map(|(k, v)| Ok((k.clone(), v.render(ctx)?)))
        .collect()
}

/// Merges `overlay` into `base`: maps key by key, anything else replaced.
pub fn merge<'env>(base: &mut BTreeMap<String, Node<'env>>, overlay: BTreeMap<String, Node<'env>>) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(Node::Map(inner)), Node::Map(over)) => merge(inner, over),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// What templates know about a cluster: `cluster.{name, labels, annotations, values, facts}`.
pub fn cluster_context(cluster: &Cluster) -> minijinja::Value {
    #[derive(Serialize)]
    struct View<'a> {
        name: &'a str,
        labels: &'a BTreeMap<String, String>,
        annotations: &'a BTreeMap<String, String>,
        values: &'a JsonMap,
        facts: &'a JsonMap,
    }
    minijinja::Value::from(minijinja::value::Serde(View {
        name: &cluster.name,
        labels: &cluster.labels,
        annotations: &cluster.annotations,
        values: &cluster.values,
        facts: &cluster.facts,
    }))
}

/// What templates know about the fleet: `fleet.{name, values}`.
pub fn fleet_context(fleet: &Fleet) -> minijinja::Value {
    context! { name => fleet.name.as_str(), values => minijinja::Value::from(minijinja::value::Serde(&fleet.spec.values)) }
}

/// The whole context of a template rendered for one cluster and module.
pub fn context(
    cluster: &minijinja::Value,
    module: &str,
    version: &str,
    fleet: &minijinja::Value,
) -> minijinja::Value {
    context! {
        cluster => cluster,
        module => context! { name => module, version => version },
        version => version,
        fleet => fleet,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> minijinja::Value {
        let cluster = context! {
            name => "eu-1",
            labels => context! { env => "prod" },
            values => context! { replicas => 3, resources => context! { cpu => "1" } },
        };
        context(
            &cluster,
            "ingress",
            "1.2.0",
            &context! { values => context! {} },
        )
    }

    fn render(source: &str) -> Result<serde_json::Value, TemplateError> {
        let env = sandbox();
        let text = Text::compile(&env, source, Origin::file(&"m.yaml".into()), "x".into())
            .map_err(|d| TemplateError {
                origin: d.origin,
                path: String::new(),
                message: d.message,
            })?;
        text.render(&ctx())
    }

    #[test]
    fn renders_strings_and_keeps_single_expression_types() {
        assert_eq!(
            render("{{ cluster.name }}.example.com").unwrap(),
            "eu-1.example.com"
        );
        assert_eq!(render("v{{ version }}").unwrap(), "v1.2.0");
        assert_eq!(
            render("{{ module.name }}-{{ module.version }}").unwrap(),
            "ingress-1.2.0"
        );
        assert_eq!(
            render("{{ cluster.values.replicas }}").unwrap(),
            serde_json::json!(3)
        );
        assert_eq!(
            render(" {{ cluster.values.resources }} ").unwrap(),
            serde_json::json!({"cpu": "1"})
        );
        assert_eq!(render("{{ cluster.labels.env | upper }}").unwrap(), "PROD");
        assert_eq!(
            render("{{ cluster.values.missing | default('x') }}").unwrap(),
            "x"
        );
    }

    #[test]
    fn undefined_names_are_errors() {
        let e = render("{{ cluster.values.domain }}").unwrap_err();
        assert!(e.message.contains("undefined"), "{e:?}");
        let e = render("host: {{ clusterr.name }}").unwrap_err();
        assert!(e.message.contains("undefined"), "{e:?}");
    }

    #[test]
    fn runaway_templates_are_stopped() {
        let e = render(
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
        )
        .unwrap_err();
        assert!(e.message.contains("ran too long"), "{e:?}");
    }

    #[test]
    fn huge_output_is_refused() {
        let e = render("{{ 'x' * 100000 }}").unwrap_err();
        assert!(e.message.contains("at most"), "{e:?}");
    }

    #[test]
    fn huge_lists_are_refused_before_they_become_json() {
        // Found by fuzzing: six million items took seconds to convert, then were refused.
        let started = std::time::Instant::now();
        let e = render("{{ [01, 2, ] * 3000002}}").unwrap_err();
        assert!(e.message.contains("at most 65536 are allowed"), "{e:?}");
        let e = render("{{ [[1] * 100000] * 100000 }}").unwrap_err();
        assert!(e.message.contains("at most"), "{e:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        assert_eq!(
            render("{{ {'a': [1, 2] * 2} }}").unwrap(),
            serde_json::json!({"a": [1, 2, 1, 2]})
        );
    }

    #[test]
    fn printing_a_huge_value_stops_at_the_limit() {
        // Found by fuzzing: billions of items, shared in memory, took minutes to print.
        let started = std::time::Instant::now();
        let e = render("{{ [[0, [0, 2] * 642] * 1400] * 642 }}x").unwrap_err();
        assert!(e.message.contains("at most 65536 are allowed"), "{e:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        let e = render("{% for i in range(100) %}{{ 'x' * 1000 }}{% endfor %}").unwrap_err();
        assert!(e.message.contains("at most 65536 are allowed"), "{e:?}");
        assert_eq!(render("a{{ [1, 2] }}b").unwrap(), "a[1, 2]b");
    }

    #[test]
    fn no_other_templates_can_be_reached() {
        let e = render("{% include 'other' %}").unwrap_err();
        assert!(
            e.message.contains("syntax") || e.message.contains("unknown"),
            "{e:?}"
        );
    }

    #[test]
    fn templates_cannot_read_the_environment_or_files() {
        // SAFETY: the test sets a variable no other test reads.
        unsafe { std::env::set_var("FLEEET_TEST_SECRET", "s3cret") };
        for source in [
            "{{ env.FLEEET_TEST_SECRET }}",
            "{{ environ }}",
            "{{ self.__init__ }}",
            "{% include '/etc/passwd' %}",
            "{% import '/etc/passwd' as p %}",
            "{{ cluster.__class__ }}",
        ] {
            match render(source) {
                Err(e) => assert!(!e.message.contains("s3cret"), "{e:?}"),
                Ok(value) => panic!("{source} rendered {value}"),
            }
        }
    }

    #[test]
    fn syntax_errors_name_the_place() {
        let env = sandbox();
        let Err(d) = Text::compile(
            &env,
            "{{ cluster.name ",
            Origin::file(&"m.yaml".into()),
            "host".into(),
        ) else {
            panic!("expected a syntax error")
        };
        assert!(
            d.message.starts_with("template syntax error in host:"),
            "{}",
            d.message
        );
    }
}
