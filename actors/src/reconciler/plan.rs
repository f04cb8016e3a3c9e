//! One list of containers in, what to tell each app actor and what to
//! remove out. Pure, so every rule is tested without an engine.

use std::collections::BTreeMap;

use archy_apps::Tier;
use archy_runtime::{labels, Observed};

/// An app that has a live actor, as the board shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppView {
    pub app: String,
    pub tier: Tier,
    /// An operation is in flight: its containers are the actor's business.
    pub busy: bool,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Every app with an actor, databases first, with its containers (none
    /// at all is news too: the actor recreates them).
    pub observe: Vec<(String, Vec<Observed>)>,
    /// Extra copies of a member of an idle app.
    pub duplicates: Vec<Observed>,
    /// Containers of apps without an actor, by app: orphans unless the
    /// user's word says the app is installed.
    pub unowned: BTreeMap<String, Vec<Observed>>,
}

pub fn plan(observed: Vec<Observed>, apps: &[AppView]) -> Plan {
    let mut by_app: BTreeMap<String, Vec<Observed>> = BTreeMap::new();
    for container in observed {
        by_app
            .entry(container.app.clone())
            .or_default()
            .push(container);
    }
    let mut ordered: Vec<&AppView> = apps.iter().collect();
    ordered.sort_by(|a, b| (a.tier, &a.app).cmp(&(b.tier, &b.app)));
    let mut plan = Plan::default();
    for view in ordered {
        let containers = by_app.remove(&view.app).unwrap_or_default();
        let kept = if view.busy {
            containers
        } else {
            let (kept, extra) = split_duplicates(&view.app, containers);
            plan.duplicates.extend(extra);
            kept
        };
        plan.observe.push((view.app.clone(), kept));
    }
    plan.unowned = by_app;
    plan
}

/// Containers claiming the same member: keep the one the actor addresses
/// (its expected name), else a running one; the others are extra.
fn split_duplicates(app: &str, containers: Vec<Observed>) -> (Vec<Observed>, Vec<Observed>) {
    let mut by_member: BTreeMap<(&str, String), Vec<Observed>> = BTreeMap::new();
    for container in containers {
        let member = container
            .labels
            .get(labels::MEMBER)
            .cloned()
            .unwrap_or_else(|| container.name.clone());
        by_member
            .entry((container.role.as_str(), member))
            .or_default()
            .push(container);
    }
    let (mut kept, mut extra) = (Vec::new(), Vec::new());
    for ((_, member), mut copies) in by_member {
        // Best first; the name breaks ties so the choice is deterministic.
        copies.sort_by(|a, b| {
            let rank = |c: &Observed| {
                let expected = is_expected_name(app, &member, &c.name);
                (expected, c.state.is_running(), c.spec_hash.is_some())
            };
            rank(b).cmp(&rank(a)).then_with(|| a.name.cmp(&b.name))
        });
        let mut copies = copies.into_iter();
        kept.extend(copies.next());
        extra.extend(copies);
    }
    (kept, extra)
}

/// `archy-<app>` for a single container, `archy-<app>-<member>` in a stack.
fn is_expected_name(app: &str, member: &str, name: &str) -> bool {
    name == format!("archy-{app}-{member}") || (member == app && name == format!("archy-{app}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use archy_runtime::{Role, RunState};

    fn container(app: &str, name: &str, member: &str, state: RunState) -> Observed {
        Observed {
            id: format!("id-{name}"),
            name: name.into(),
            app: app.into(),
            role: Role::App,
            spec_hash: Some("h".into()),
            image: "img".into(),
            state,
            exit_code: None,
            labels: [(labels::MEMBER.to_string(), member.to_string())].into(),
        }
    }

    fn view(app: &str, tier: Tier, busy: bool) -> AppView {
        AppView {
            app: app.into(),
            tier,
            busy,
        }
    }

    fn names(containers: &[Observed]) -> Vec<&str> {
        containers.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn apps_are_observed_in_tier_order_and_empty_ones_too() {
        let observed = vec![container("web", "archy-web", "web", RunState::Running)];
        let apps = [
            view("web", Tier::Ui, false),
            view("db", Tier::Database, false),
            view("api", Tier::Backend, false),
        ];
        let plan = plan(observed, &apps);
        let order: Vec<_> = plan
            .observe
            .iter()
            .map(|(a, c)| (a.as_str(), c.len()))
            .collect();
        assert_eq!(order, [("db", 0), ("api", 0), ("web", 1)]);
    }

    #[test]
    fn containers_of_apps_without_an_actor_are_unowned() {
        let observed = vec![
            container("ghost", "archy-ghost", "ghost", RunState::Running),
            container("web", "archy-web", "web", RunState::Running),
        ];
        let plan = plan(observed, &[view("web", Tier::App, false)]);
        assert_eq!(plan.unowned.keys().collect::<Vec<_>>(), ["ghost"]);
        assert!(plan.duplicates.is_empty());
    }

    #[test]
    fn a_duplicate_loses_to_the_container_at_the_expected_name() {
        let observed = vec![
            container("web", "archy-web-old", "web", RunState::Running),
            container("web", "archy-web", "web", RunState::Exited),
        ];
        let plan = plan(observed, &[view("web", Tier::App, false)]);
        assert_eq!(names(&plan.observe[0].1), ["archy-web"]);
        assert_eq!(names(&plan.duplicates), ["archy-web-old"]);
    }

    #[test]
    fn without_the_expected_name_the_running_copy_is_kept() {
        let observed = vec![
            container("s", "archy-s-db-a", "db", RunState::Exited),
            container("s", "archy-s-db-b", "db", RunState::Running),
            container("s", "archy-s-web", "web", RunState::Running),
        ];
        let plan = plan(observed, &[view("s", Tier::App, false)]);
        assert_eq!(names(&plan.observe[0].1), ["archy-s-db-b", "archy-s-web"]);
        assert_eq!(names(&plan.duplicates), ["archy-s-db-a"]);
    }

    #[test]
    fn a_busy_apps_duplicates_are_left_to_its_actor() {
        let observed = vec![
            container("web", "archy-web-old", "web", RunState::Running),
            container("web", "archy-web", "web", RunState::Running),
        ];
        let plan = plan(observed, &[view("web", Tier::App, true)]);
        assert!(plan.duplicates.is_empty());
        assert_eq!(plan.observe[0].1.len(), 2);
    }
}
