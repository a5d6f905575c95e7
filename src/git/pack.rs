//! Copying objects between repositories as one pack: which objects a push must send, and
//! writing them into the receiving repository.

use std::collections::HashSet;
use std::io::Write;

use git2::{Buf, ObjectType, Oid, Repository, Tree};

use super::git_error;
use crate::Error;

/// The objects of the commits `new` (which the receiving side lacks) that it may lack: each
/// commit, and of its tree what differs, path by path, from the trees of its parents. This is
/// git's sparse walk (`pack.useSparse`): its cost is what changed, where libgit2's walk reads
/// every tree the parents hold. Each parent is either on the receiving side with everything
/// it reaches, or in `new`, so nothing it holds at the same path needs sending.
pub(super) fn changed_objects(repo: &Repository, new: &[Oid]) -> Result<Vec<Oid>, git2::Error> {
    let mut objects = Walk {
        repo,
        seen: HashSet::new(),
        ids: Vec::new(),
    };
    for &id in new {
        let commit = repo.find_commit(id)?;
        objects.add(id);
        let parents = commit
            .parents()
            .map(|parent| parent.tree())
            .collect::<Result<Vec<_>, _>>()?;
        objects.tree(&commit.tree()?, &parents)?;
    }
    Ok(objects.ids)
}

struct Walk<'r> {
    repo: &'r Repository,
    seen: HashSet<Oid>,
    ids: Vec<Oid>,
}

impl<'r> Walk<'r> {
    fn add(&mut self, id: Oid) -> bool {
        let new = self.seen.insert(id);
        if new {
            self.ids.push(id);
        }
        new
    }

    /// `tree` and what it holds that `olds` (the same folder in the parents) do not.
    fn tree(&mut self, tree: &Tree<'r>, olds: &[Tree<'r>]) -> Result<(), git2::Error> {
        if olds.iter().any(|old| old.id() == tree.id()) || !self.add(tree.id()) {
            return Ok(());
        }
        for entry in tree.iter() {
            let same_path = |old: &Tree<'r>| {
                old.get_name_bytes(entry.name_bytes())
                    .map(|e| (e.id(), e.kind()))
            };
            let at_same_path: Vec<_> = olds.iter().filter_map(same_path).collect();
            if at_same_path.iter().any(|&(id, _)| id == entry.id()) {
                continue;
            }
            match entry.kind() {
                Some(ObjectType::Tree) => {
                    let old_trees = at_same_path
                        .iter()
                        .filter(|(_, kind)| *kind == Some(ObjectType::Tree))
                        .map(|&(id, _)| self.repo.find_tree(id))
                        .collect::<Result<Vec<_>, _>>()?;
                    self.tree(&self.repo.find_tree(entry.id())?, &old_trees)?;
                }
                Some(ObjectType::Blob) => {
                    self.add(entry.id());
                }
                _ => {} // a submodule: its commit is not in this repository
            }
        }
        Ok(())
    }
}

/// Writes the objects `ids` of `from` into `to` as one pack file (deltified and indexed in one
/// go, not object by object).
pub(super) fn copy_as_pack(from: &Repository, ids: &[Oid], to: &Repository) -> Result<(), Error> {
    if ids.is_empty() {
        return Ok(());
    }
    let context = format!("writing {} git objects as a pack", ids.len());
    let failed = |e| git_error(&context, e);
    let mut builder = from.packbuilder().map_err(failed)?;
    builder.set_threads(0); // one per CPU, for the search for deltas
    for &id in ids {
        builder.insert_object(id, None).map_err(failed)?;
    }
    let mut pack = Buf::new();
    builder.write_buf(&mut pack).map_err(failed)?;
    let odb = to.odb().map_err(failed)?;
    let mut writer = odb.packwriter().map_err(failed)?;
    writer
        .write_all(&pack)
        .map_err(|e| Error::io(&to.path().join("objects"), e))?;
    writer.commit().map_err(failed)?;
    Ok(())
}
