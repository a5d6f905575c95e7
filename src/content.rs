//! The bytes of a rendered file, known by the id git gives them.
//!
//! A plan compares files, and a git tree names them, by id; only the files a step writes need
//! their text. A 100,000-cluster fleet renders 1.8 million files, 1.3 GB of text, while a wave
//! writes a few thousand of them: so a [`Content`] may hold its id alone (a file as a tree
//! holds it, or a pointer rendered only to be compared), and the text is rendered again, or
//! read, where a step writes it.

use std::sync::Arc;

use git2::Oid;

/// A file's bytes: the git blob id, and the text while fleeet holds it. Two contents are equal
/// when their ids are: when they hold the same bytes.
#[derive(Clone)]
pub struct Content {
    id: Oid,
    text: Option<Arc<str>>,
}

impl Content {
    /// The content holding `text`.
    pub fn new(text: impl Into<Arc<str>>) -> Content {
        let text = text.into();
        Content {
            id: blob_id(text.as_bytes()),
            text: Some(text),
        }
    }

    /// The content holding `text`, known by its id alone.
    pub fn id_of(text: &str) -> Content {
        Content {
            id: blob_id(text.as_bytes()),
            text: None,
        }
    }

    /// The content of the blob `id`, read as `text`: trusted to be its bytes.
    pub fn read(id: Oid, text: Arc<str>) -> Content {
        Content {
            id,
            text: Some(text),
        }
    }

    /// The same bytes without their text: what an id alone says.
    pub fn id_only(&self) -> Content {
        Content {
            id: self.id,
            text: None,
        }
    }

    /// This content, with the text of `other` if it has none and `other` holds the same bytes.
    pub fn or_text_of(&self, other: &Content) -> Content {
        match (&self.text, &other.text) {
            (None, Some(_)) if self.id == other.id => other.clone(),
            _ => self.clone(),
        }
    }

    /// The git blob id of the bytes.
    pub fn id(&self) -> Oid {
        self.id
    }

    /// The text, if this content holds it.
    pub fn text(&self) -> Option<&Arc<str>> {
        self.text.as_ref()
    }
}

impl PartialEq for Content {
    fn eq(&self, other: &Content) -> bool {
        self.id == other.id
    }
}

impl Eq for Content {}

impl std::fmt::Debug for Content {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.text {
            Some(text) => write!(f, "{text:?}"),
            None => write!(f, "blob {}", self.id),
        }
    }
}

impl From<&str> for Content {
    fn from(text: &str) -> Content {
        Content::new(text)
    }
}

impl From<String> for Content {
    fn from(text: String) -> Content {
        Content::new(text)
    }
}

/// The id git gives a blob holding `bytes`: the SHA-1 of `blob <length>\0<bytes>`. libgit2
/// hashes with collision detection (SHA-1DC), several times slower than the CPU's SHA
/// instructions the `sha1` crate uses; to compare fleeet's own texts with the ids a tree
/// holds, plain SHA-1 gives the same id (a property test pins it to libgit2).
pub fn blob_id(bytes: &[u8]) -> Oid {
    object_id("blob", bytes)
}

/// The id git gives an object of `kind` (`blob`, `tree`) holding `bytes`; see [`blob_id`].
pub fn object_id(kind: &str, bytes: &[u8]) -> Oid {
    use sha1::{Digest, Sha1};
    let mut hasher = Sha1::new();
    hasher.update(format!("{kind} {}\0", bytes.len()).as_bytes());
    hasher.update(bytes);
    Oid::from_bytes(&hasher.finalize()).expect("a SHA-1 digest is an object id")
}

/// The id git gives a tree holding `entries`: each a name, whether it is a folder (else a
/// plain file), and its id, in tree order (see [`tree_order`]).
pub fn tree_id<'n>(entries: impl IntoIterator<Item = (&'n str, bool, Oid)>) -> Oid {
    let entries = entries.into_iter().map(|(name, is_folder, id)| {
        let mode = if is_folder { FOLDER } else { FILE };
        (name.as_bytes(), mode, id)
    });
    object_id("tree", &tree_bytes(entries))
}

/// The file mode git gives a folder in a tree.
pub const FOLDER: i32 = 0o040000;
/// The file mode git gives a plain file in a tree.
pub const FILE: i32 = 0o100644;

/// The bytes of a git tree holding `entries`: each a name, a file mode and an id, in tree
/// order (see [`tree_order`]).
pub fn tree_bytes<'n>(entries: impl IntoIterator<Item = (&'n [u8], i32, Oid)>) -> Vec<u8> {
    let mut tree = Vec::with_capacity(1024);
    for (name, mode, id) in entries {
        match mode {
            FOLDER => tree.extend_from_slice(b"40000 "),
            FILE => tree.extend_from_slice(b"100644 "),
            other => tree.extend_from_slice(format!("{other:o} ").as_bytes()),
        }
        tree.extend_from_slice(name);
        tree.push(0);
        tree.extend_from_slice(id.as_bytes());
    }
    tree
}

/// How two entries of a tree are ordered: by name, a folder's as if it ended in `/`.
pub fn tree_order(
    a: &(impl AsRef<[u8]> + ?Sized),
    a_folder: bool,
    b: &(impl AsRef<[u8]> + ?Sized),
    b_folder: bool,
) -> std::cmp::Ordering {
    let a = a.as_ref().iter().chain(a_folder.then_some(&b'/'));
    a.cmp(b.as_ref().iter().chain(b_folder.then_some(&b'/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contents_are_equal_when_their_bytes_are_with_or_without_text() {
        let a = Content::new("kind: Kustomization\n");
        assert_eq!(a, Content::new(String::from("kind: Kustomization\n")));
        assert_eq!(a.id_only(), a);
        assert_eq!(a.id_only().text(), None);
        assert_eq!(Content::id_of("kind: Kustomization\n"), a);
        assert_eq!(Content::id_of("kind: Kustomization\n").text(), None);
        assert_ne!(a, Content::new("kind: GitRepository\n"));
        assert_eq!(
            a.id(),
            Oid::hash_object(git2::ObjectType::Blob, b"kind: Kustomization\n").unwrap()
        );
    }

    proptest::proptest! {
        #[test]
        fn blob_ids_are_libgit2s(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..3000)) {
            let libgit2 = Oid::hash_object(git2::ObjectType::Blob, &bytes).unwrap();
            proptest::prop_assert_eq!(blob_id(&bytes), libgit2);
        }
    }
}
