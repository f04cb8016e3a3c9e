//! `archy app render <file> [--secrets]`: the containers Archy would create
//! for a manifest, rendered by the very code the daemon uses.

use std::path::Path;

use archy_actors::app::render::{self, ImagePlan, MemberSpec};
use archy_actors::secrets::{FileSecrets, Secret, SecretError, SecretSource};
use archy_apps::{load_manifest, Manifest};
use archy_runtime::ContainerSpec;
use serde::Serialize;
use serde_json::json;

use super::{quadlet, Exit};
use crate::cli::{GlobalArgs, RenderArgs};

/// Stands in for every secret with a visible placeholder, so a render never
/// prints a real one unless asked.
struct Placeholders;

impl SecretSource for Placeholders {
    fn get(&self, app: &str, name: &str) -> Option<Secret> {
        Some(Secret::new(format!("<secret {app}/{name}>")))
    }
    fn ensure(&self, _: &Manifest) -> Result<(), SecretError> {
        Ok(())
    }
    fn purge(&self, _: &str) -> Result<(), SecretError> {
        Ok(())
    }
}

pub fn run(global: &GlobalArgs, args: &RenderArgs) -> Exit {
    let manifest = match load_manifest(&args.file) {
        Ok(manifest) => manifest,
        Err(error) => {
            eprintln!("archy: {error}");
            return Exit::Failed;
        }
    };
    let state_dir = global.state_dir();
    let secrets: Box<dyn SecretSource> = if args.secrets {
        Box::new(FileSecrets::new(
            state_dir.join("secrets"),
            state_dir.join("data"),
        ))
    } else {
        Box::new(Placeholders)
    };
    let data_root = state_dir.join("data").join(&manifest.id);
    let members = match render::render(&manifest, &data_root, secrets.as_ref()) {
        Ok(members) => members,
        Err(error) => {
            eprintln!("archy: {error} (is the app installed, and is --state-dir the daemon's?)");
            return Exit::Failed;
        }
    };
    let rendered: Vec<Rendered> = members.iter().map(Rendered::of).collect();
    if global.json {
        println!("{}", json!(rendered));
        return Exit::Ok;
    }
    for member in &rendered {
        let spec = serde_json::to_string_pretty(&member.spec).unwrap_or_default();
        println!("# {} — container spec\n{spec}\n", member.spec.name);
        println!("# {}\n{}", member.quadlet_file, member.quadlet);
    }
    Exit::Ok
}

/// One member: its spec, how its image is had, and its Quadlet unit.
#[derive(Serialize)]
struct Rendered<'a> {
    member: &'a str,
    spec: &'a ContainerSpec,
    /// `null` when the image is pulled.
    build: Option<Build<'a>>,
    quadlet_file: String,
    quadlet: String,
}

#[derive(Serialize)]
struct Build<'a> {
    context: &'a Path,
    containerfile: &'a str,
    context_hash: &'a str,
}

impl<'a> Rendered<'a> {
    fn of(member: &'a MemberSpec) -> Self {
        let build = match &member.image {
            ImagePlan::Pull => None,
            ImagePlan::Build {
                context,
                containerfile,
                context_hash,
            } => Some(Build {
                context,
                containerfile,
                context_hash,
            }),
        };
        Self {
            member: &member.member,
            spec: &member.spec,
            build,
            quadlet_file: format!("{}.container", member.spec.name),
            quadlet: quadlet::unit(member),
        }
    }
}
