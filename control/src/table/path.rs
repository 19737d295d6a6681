//! Path matching for one virtual host: a hash map for `Exact` paths and a
//! trie of `/`-separated elements for `Prefix` (and `ImplementationSpecific`,
//! matched as `Prefix`). A lookup is one hash probe plus a walk bounded by
//! the request path's depth; it never allocates.

use std::cmp::Ordering;
use std::collections::HashMap;

use super::types::PathType;

pub(crate) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// How well a rule matches a request path. Precedence is this `Ord`, and
/// nothing else: the longest matching rule wins, and at equal length
/// `Exact` beats `ImplementationSpecific`, which beats `Prefix` (the order
/// of [`PathType`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct MatchRank {
    /// Bytes of the rule path that matched (trailing `/` of a prefix rule
    /// not counted).
    pub len: usize,
    pub path_type: PathType,
}

/// The elements of a prefix rule: leading `/` and one trailing `/` dropped,
/// so `/foo/` and `/foo` are the same rule and `/` has no element.
pub(crate) fn prefix_key(path: &str) -> &str {
    let p = path.strip_prefix('/').unwrap_or(path);
    p.strip_suffix('/').unwrap_or(p)
}

#[derive(Debug, Default, Clone)]
struct PrefixNode {
    /// Route index for a `Prefix` rule ending here, then for an
    /// `ImplementationSpecific` one.
    routes: [Option<u32>; 2],
    /// Children sorted by element, for a binary search.
    children: Vec<(Box<str>, PrefixNode)>,
}

fn slot(path_type: PathType) -> usize {
    match path_type {
        PathType::ImplementationSpecific => 1,
        PathType::Prefix | PathType::Exact => 0,
    }
}

/// All paths of one virtual host.
#[derive(Debug, Default, Clone)]
pub(crate) struct PathIndex {
    exact: FastMap<Box<str>, u32>,
    root: PrefixNode,
}

impl PathIndex {
    /// The route index already registered for exactly this path and type.
    pub(crate) fn get(&self, path: &str, path_type: PathType) -> Option<u32> {
        if path_type == PathType::Exact {
            return self.exact.get(path).copied();
        }
        let mut node = &self.root;
        let key = prefix_key(path);
        if !key.is_empty() {
            for element in key.split('/') {
                node = node.child(element)?;
            }
        }
        node.routes[slot(path_type)]
    }

    /// Register `route` (an index into the host's route list). The caller
    /// checks [`get`](Self::get) first; an existing entry is replaced.
    pub(crate) fn insert(&mut self, path: &str, path_type: PathType, route: u32) {
        if path_type == PathType::Exact {
            self.exact.insert(path.into(), route);
            return;
        }
        let mut node = &mut self.root;
        let key = prefix_key(path);
        if !key.is_empty() {
            for element in key.split('/') {
                node = node.child_or_insert(element);
            }
        }
        node.routes[slot(path_type)] = Some(route);
    }

    /// The best route for `path` (query already stripped), with its rank.
    pub(crate) fn lookup(&self, path: &str) -> Option<(MatchRank, u32)> {
        let rest = path.strip_prefix('/')?;
        let exact = self
            .exact
            .get(path)
            .map(|&r| (MatchRank { len: path.len(), path_type: PathType::Exact }, r));

        let mut best: Option<(MatchRank, u32)> = None;
        let mut consider = |node: &PrefixNode, len: usize| {
            for (&route, path_type) in
                node.routes.iter().zip([PathType::Prefix, PathType::ImplementationSpecific])
            {
                if let Some(route) = route {
                    let cand = (MatchRank { len, path_type }, route);
                    if best.is_none_or(|b| cand.0 > b.0) {
                        best = Some(cand);
                    }
                }
            }
        };
        let mut node = &self.root;
        consider(node, 0);
        let mut matched = 0;
        for element in rest.split('/') {
            match node.child(element) {
                Some(child) => {
                    node = child;
                    matched += 1 + element.len();
                    consider(node, matched);
                }
                None => break,
            }
        }
        match (exact, best) {
            (Some(e), Some(p)) => Some(if e.0.cmp(&p.0) == Ordering::Less { p } else { e }),
            (e, p) => e.or(p),
        }
    }
}

impl PrefixNode {
    fn child(&self, element: &str) -> Option<&PrefixNode> {
        self.children
            .binary_search_by(|(k, _)| k.as_ref().cmp(element))
            .ok()
            .map(|i| &self.children[i].1)
    }

    fn child_or_insert(&mut self, element: &str) -> &mut PrefixNode {
        let i = match self.children.binary_search_by(|(k, _)| k.as_ref().cmp(element)) {
            Ok(i) => i,
            Err(i) => {
                self.children.insert(i, (element.into(), PrefixNode::default()));
                i
            }
        };
        &mut self.children[i].1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_orders_length_before_type() {
        let long_prefix = MatchRank { len: 8, path_type: PathType::Prefix };
        let short_exact = MatchRank { len: 4, path_type: PathType::Exact };
        let exact = MatchRank { len: 4, path_type: PathType::Exact };
        let prefix = MatchRank { len: 4, path_type: PathType::Prefix };
        assert!(long_prefix > short_exact);
        assert!(exact > prefix);
    }

    #[test]
    fn prefix_key_ignores_one_trailing_slash() {
        assert_eq!(prefix_key("/"), "");
        assert_eq!(prefix_key("/foo/"), "foo");
        assert_eq!(prefix_key("/foo/bar"), "foo/bar");
    }

    #[test]
    fn request_path_without_leading_slash_matches_nothing() {
        let mut index = PathIndex::default();
        index.insert("/", PathType::Prefix, 0);
        assert_eq!(index.lookup("*"), None);
        assert_eq!(index.lookup("/anything").map(|m| m.1), Some(0));
    }
}
