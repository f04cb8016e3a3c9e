//! `archy app validate <files…>`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use archy_apps::{validate_files, Catalog};

use crate::cli::ValidateArgs;

pub fn run(args: &ValidateArgs) -> ExitCode {
    let known = known_catalog(&args.files, &args.catalogs);
    let results = validate_files(&args.files, &known);
    let mut bad = 0;
    for result in &results {
        match result {
            Ok(m) => println!("ok      {} ({})", m.origin.display(), m.id),
            Err(e) => {
                bad += 1;
                eprintln!("invalid {e}");
            }
        }
    }
    if bad == 0 {
        println!("{} manifest(s) valid", results.len());
        ExitCode::SUCCESS
    } else {
        eprintln!("{bad} of {} manifest(s) invalid", results.len());
        ExitCode::FAILURE
    }
}

/// The catalogs the files are checked against: each file's own catalog
/// (`<catalog>/<id>/manifest.yml`) plus any named with `--catalog`. Their own
/// problems are not reported here: only the files asked about are.
fn known_catalog(files: &[PathBuf], extra: &[PathBuf]) -> Catalog {
    let dirs: BTreeSet<&Path> = files
        .iter()
        .filter_map(|f| f.parent()?.parent())
        .filter(|d| !d.as_os_str().is_empty())
        .chain(extra.iter().map(PathBuf::as_path))
        .collect();
    let mut known = Catalog::default();
    for dir in dirs {
        known.merge(Catalog::load_dir(dir).catalog);
    }
    known
}
