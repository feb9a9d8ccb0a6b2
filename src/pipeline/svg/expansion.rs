//! The size of a sanitised document once drawn: a `<use>` draws its target again, and so do
//! `url(#...)` paints, clips, masks, filters and markers, so ten `use`s of a group of ten
//! `use`s of ... is a billion elements in a few hundred bytes. Each element counts itself, its
//! children and everything it references, memoised; the total must stay within
//! `images.max_svg_nodes` and the expanded depth within [`MAX_DEPTH`]. A reference cycle is
//! refused.

use std::collections::HashMap;

use super::document::{too_deep, too_many_nodes};
use super::write::{Child, Element};
use super::{SvgSettings, MAX_DEPTH};
use crate::pipeline::PipelineError;

#[derive(Clone, Copy)]
enum Mark {
    Unvisited,
    InProgress,
    /// Elements drawn, and the depth they reach.
    Done(u64, usize),
}

pub fn check(arena: &[Element], settings: &SvgSettings) -> Result<(), PipelineError> {
    let ids: HashMap<&str, usize> = arena
        .iter()
        .enumerate()
        .filter_map(|(i, e)| {
            let id = e.attributes.iter().find(|(name, _)| *name == "id")?;
            Some((id.1.as_str(), i))
        })
        .collect();
    let mut walk = Walk {
        arena,
        ids,
        marks: vec![Mark::Unvisited; arena.len()],
        limit: u64::from(settings.max_nodes),
    };
    let (count, _) = walk.visit(0, 1).map_err(|e| e.into_error(settings))?;
    if count > walk.limit {
        return Err(too_many_nodes(settings));
    }
    Ok(())
}

enum Refused {
    TooMany,
    TooDeep,
    Cycle,
}

impl Refused {
    fn into_error(self, settings: &SvgSettings) -> PipelineError {
        match self {
            Refused::TooMany => too_many_nodes(settings),
            Refused::TooDeep => too_deep(),
            Refused::Cycle => PipelineError::Unsupported("svg: a reference cycle".into()),
        }
    }
}

struct Walk<'a> {
    arena: &'a [Element],
    ids: HashMap<&'a str, usize>,
    marks: Vec<Mark>,
    limit: u64,
}

impl Walk<'_> {
    /// Recursion is bounded: `depth` is checked against [`MAX_DEPTH`] before going deeper.
    fn visit(&mut self, index: usize, depth: usize) -> Result<(u64, usize), Refused> {
        if depth > MAX_DEPTH {
            return Err(Refused::TooDeep);
        }
        match self.marks[index] {
            Mark::Done(count, height) => return Ok((count, height)),
            Mark::InProgress => return Err(Refused::Cycle),
            Mark::Unvisited => self.marks[index] = Mark::InProgress,
        }
        let element = &self.arena[index];
        let children = element.children.iter().filter_map(|c| match c {
            Child::Element(i) => Some(*i),
            Child::Text(_) => None,
        });
        let referenced = element
            .refs
            .iter()
            .filter_map(|id| self.ids.get(id.as_str()).copied());
        let next: Vec<usize> = children.chain(referenced).collect();
        let (mut count, mut height) = (1u64, 1usize);
        for i in next {
            let (c, h) = self.visit(i, depth + 1)?;
            count = count.saturating_add(c);
            height = height.max(h + 1);
            if count > self.limit {
                return Err(Refused::TooMany);
            }
        }
        if depth + height - 1 > MAX_DEPTH {
            return Err(Refused::TooDeep);
        }
        self.marks[index] = Mark::Done(count, height);
        Ok((count, height))
    }
}
