//! Maintenance windows: a pair changes only while `now` is inside one of its cluster's windows
//! (in the cluster's own time zone, an IANA name or a template over the cluster); the others
//! wait, and the plan says when each next window opens.

use std::cell::RefCell;
use std::collections::HashMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use minijinja::Environment;

use super::WindowWait;
use crate::diagnostic::Origin;
use crate::model::Window;
use crate::model::window;
use crate::render::Renderer;
use crate::template::{Text, is_template};

/// A window's time zone: the same for every cluster, or rendered per cluster.
enum Zone<'e> {
    Fixed(TimeZone),
    Template(Text<'e>),
    /// The template did not compile.
    Broken(String),
}

/// The windows of a module, ready to tell for each cluster whether it may change now.
pub struct Gate<'e, 'r, 'a> {
    windows: Vec<(&'e Window, Zone<'e>)>,
    renderer: &'r Renderer<'a>,
    now: Timestamp,
    /// Zones by name, looked up once.
    zones: RefCell<HashMap<String, Result<TimeZone, String>>>,
}

impl<'e, 'r, 'a> Gate<'e, 'r, 'a> {
    /// Compiles the time zones of `windows`.
    pub fn new(
        env: &'e Environment<'e>,
        windows: &'e [Window],
        renderer: &'r Renderer<'a>,
        now: Timestamp,
    ) -> Self {
        let windows = windows
            .iter()
            .map(|w| {
                let name = w.time_zone.as_ref().map_or("UTC", |z| z.0.as_str());
                let zone = if is_template(name) {
                    let origin = Origin::file(&renderer.fleet.file);
                    match Text::compile(env, name, origin, "timeZone".into()) {
                        Ok(text) => Zone::Template(text),
                        Err(d) => Zone::Broken(d.message),
                    }
                } else {
                    match window::zone(name) {
                        Ok(tz) => Zone::Fixed(tz),
                        Err(e) => Zone::Broken(e),
                    }
                };
                (w, zone)
            })
            .collect();
        Gate {
            windows,
            renderer,
            now,
            zones: RefCell::default(),
        }
    }

    /// `None` when cluster `c` may change now; else why it waits and until when.
    pub fn closed(&self, c: usize) -> Option<WindowWait> {
        if self.windows.is_empty() {
            return None;
        }
        let mut opens: Option<Timestamp> = None;
        let mut problem = None;
        for (window, zone) in &self.windows {
            match self.zone_of(zone, c) {
                Ok(tz) => {
                    if window.contains(&tz, self.now) {
                        return None;
                    }
                    if let Some(next) = window.next_opening(&tz, self.now) {
                        opens = Some(opens.map_or(next, |o| o.min(next)));
                    }
                }
                Err(e) => problem = Some(e),
            }
        }
        Some(WindowWait {
            cluster: self.renderer.fleet.clusters[c].name.clone(),
            opens,
            problem,
        })
    }

    fn zone_of(&self, zone: &Zone<'_>, c: usize) -> Result<TimeZone, String> {
        let name = match zone {
            Zone::Fixed(tz) => return Ok(tz.clone()),
            Zone::Broken(e) => return Err(e.clone()),
            Zone::Template(text) => match text.render(&self.renderer.cluster_context(c)) {
                Ok(serde_json::Value::String(name)) => name,
                Ok(other) => other.to_string(),
                Err(e) => return Err(format!("the time zone template failed: {}", e.message)),
            },
        };
        self.zones
            .borrow_mut()
            .entry(name)
            .or_insert_with_key(|name| window::zone(name))
            .clone()
    }
}
