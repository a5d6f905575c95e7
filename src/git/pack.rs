//! Copying objects between repositories as one pack: which objects a push must send, and
//! writing them into the receiving repository.

use std::collections::HashSet;
use std::io::Write;

use flate2::{Compress, Compression, FlushCompress, Status};
use git2::{ObjectType, Oid, Repository, Tree};
use sha1::{Digest, Sha1};

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

/// Writes the objects `ids` of `from` (an id may repeat) into `to` as one pack file, indexed
/// in one go.
///
/// The pack is written here, its objects whole and stored as they are (deflate's stored
/// blocks): it goes to a repository on the same machine, and at 10,000 clusters libgit2's pack
/// builder spent longer searching for deltas, and zlib longer deflating, than the rest of the
/// write. The pack is about twice the size (12 MB for a wave of 7,532 pointers). libgit2's
/// indexer still reads and hashes every object of it, as it does for a fetched pack.
pub(super) fn copy_as_pack(from: &Repository, ids: &[Oid], to: &Repository) -> Result<(), Error> {
    let mut seen = HashSet::with_capacity(ids.len());
    let ids: Vec<Oid> = ids.iter().copied().filter(|&id| seen.insert(id)).collect();
    let context = format!("reading {} git objects to copy", ids.len());
    let source = from.odb().map_err(|e| git_error(&context, e))?;
    let objects = ids.iter().map(|&id| {
        let object = source.read(id).map_err(|e| git_error(&context, e))?;
        Ok((object.kind(), Read(object)))
    });
    write_pack(to, ids.len(), objects)
}

/// An object read from an object database, as bytes.
struct Read<'o>(git2::OdbObject<'o>);

impl AsRef<[u8]> for Read<'_> {
    fn as_ref(&self) -> &[u8] {
        self.0.data()
    }
}

/// Writes `count` objects, each a type and its bytes, into `to` as one pack file, indexed in
/// one go (see [`copy_as_pack`] for what the pack holds and why).
pub(super) fn write_pack<B: AsRef<[u8]>>(
    to: &Repository,
    count: usize,
    objects: impl Iterator<Item = Result<(ObjectType, B), Error>>,
) -> Result<(), Error> {
    if count == 0 {
        return Ok(());
    }
    let context = format!("writing {count} git objects as a pack");
    let failed = |e| git_error(&context, e);
    let io_failed = |e| Error::io(&to.path().join("objects"), e);
    let odb = to.odb().map_err(failed)?;
    let mut pack = PackWriter::new(odb.packwriter().map_err(failed)?, count);
    for object in objects {
        let (kind, data) = object?;
        pack.object(kind, data.as_ref()).map_err(io_failed)?;
    }
    pack.finish().map_err(io_failed)?.commit().map_err(failed)?;
    Ok(())
}

/// A pack file (version 2, objects whole, in zlib streams of stored blocks) streamed into `out`.
struct PackWriter<W: Write> {
    out: W,
    /// What is not yet written to `out`.
    buffer: Vec<u8>,
    /// Of everything written: the pack's last 20 bytes.
    checksum: Sha1,
    zlib: Compress,
}

impl<W: Write> PackWriter<W> {
    const FLUSH_AT: usize = 1 << 20;

    fn new(out: W, objects: usize) -> Self {
        let mut buffer = Vec::with_capacity(Self::FLUSH_AT + (64 << 10));
        buffer.extend_from_slice(b"PACK");
        buffer.extend_from_slice(&2u32.to_be_bytes());
        buffer.extend_from_slice(
            &u32::try_from(objects)
                .expect("fewer than 2^32 objects")
                .to_be_bytes(),
        );
        PackWriter {
            out,
            buffer,
            checksum: Sha1::new(),
            zlib: Compress::new(Compression::none(), true),
        }
    }

    /// Adds an object: its type and size, then its content as a zlib stream.
    fn object(&mut self, kind: ObjectType, data: &[u8]) -> std::io::Result<()> {
        let code = match kind {
            ObjectType::Commit => 1,
            ObjectType::Tree => 2,
            ObjectType::Blob => 3,
            ObjectType::Tag => 4,
            ObjectType::Any => unreachable!("a stored object has a type"),
        };
        let mut size = data.len();
        let mut byte = (code << 4) | (size & 0x0f) as u8;
        size >>= 4;
        while size > 0 {
            self.buffer.push(byte | 0x80);
            byte = (size & 0x7f) as u8;
            size >>= 7;
        }
        self.buffer.push(byte);

        self.zlib.reset();
        loop {
            self.buffer.reserve(data.len() / 2 + 64);
            let read = self.zlib.total_in() as usize;
            let status = self
                .zlib
                .compress_vec(&data[read..], &mut self.buffer, FlushCompress::Finish)
                .map_err(std::io::Error::other)?;
            if status == Status::StreamEnd {
                break;
            }
        }
        if self.buffer.len() >= Self::FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.checksum.update(&self.buffer);
        self.out.write_all(&self.buffer)?;
        self.buffer.clear();
        Ok(())
    }

    /// Writes the rest and the checksum; returns the output.
    fn finish(mut self) -> std::io::Result<W> {
        self.flush()?;
        let checksum = self.checksum.finalize();
        self.out.write_all(&checksum)?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use std::process::{Command, Stdio};

    use proptest::prelude::*;

    use super::*;

    /// A pack of `objects` as [`PackWriter`] writes it.
    fn pack(objects: &[(ObjectType, Vec<u8>)]) -> Vec<u8> {
        let mut pack = PackWriter::new(Vec::new(), objects.len());
        for (kind, data) in objects {
            pack.object(*kind, data).unwrap();
        }
        pack.finish().unwrap()
    }

    #[test]
    fn git_indexes_the_pack_and_reads_every_object_back() {
        // Sizes on each side of the header's 4- and 11-bit boundaries, and one past the
        // buffer's flush, so that the pack is written in several pieces.
        let sizes = [0, 15, 16, 2047, 2048, PackWriter::<Vec<u8>>::FLUSH_AT + 3];
        let objects: Vec<_> = sizes
            .iter()
            .map(|&size| {
                (
                    ObjectType::Blob,
                    (0..size).map(|i| (i * 7 % 251) as u8).collect(),
                )
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            let mut command = Command::new("git");
            command.arg("-C").arg(dir.path()).args(args);
            command
        };
        assert!(
            git(&["init", "--quiet", "--bare"])
                .status()
                .unwrap()
                .success()
        );
        let mut index = git(&["index-pack", "--stdin", "--strict"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        index
            .stdin
            .take()
            .unwrap()
            .write_all(&pack(&objects))
            .unwrap();
        assert!(
            index.wait().unwrap().success(),
            "git index-pack refused the pack"
        );
        for (_, data) in &objects {
            let id = Oid::hash_object(ObjectType::Blob, data)
                .unwrap()
                .to_string();
            let shown = git(&["cat-file", "blob", &id]).output().unwrap();
            assert!(shown.status.success(), "{id} is not in the pack");
            assert_eq!(&shown.stdout, data);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        #[test]
        fn libgit2_reads_back_what_was_packed(
            blobs in prop::collection::hash_set(prop::collection::vec(any::<u8>(), 0..3000), 1..20)
        ) {
            let (from_dir, to_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            let from = Repository::init_bare(from_dir.path()).unwrap();
            let mut ids: Vec<Oid> = blobs.iter().map(|blob| from.blob(blob).unwrap()).collect();
            let tree = {
                let mut builder = from.treebuilder(None).unwrap();
                for (i, &id) in ids.iter().enumerate() {
                    builder.insert(format!("f{i}"), id, 0o100644).unwrap();
                }
                builder.write().unwrap()
            };
            ids.push(tree);
            ids.push(ids[0]); // a repeated id is sent once
            let to = Repository::init_bare(to_dir.path()).unwrap();
            copy_as_pack(&from, &ids, &to).unwrap();
            for &id in &ids {
                let (sent, got) = (from.odb().unwrap(), to.odb().unwrap());
                let (sent, got) = (sent.read(id).unwrap(), got.read(id).unwrap());
                prop_assert_eq!(sent.kind(), got.kind());
                prop_assert_eq!(sent.data(), got.data());
            }
        }
    }
}
