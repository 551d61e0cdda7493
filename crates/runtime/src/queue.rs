//! The vault's write queue policy, kept apart from IndexedDB so it is tested on every target.

use std::collections::VecDeque;

/// Queues `op` after the others, except that a write of the record the last queued operation also
/// writes replaces that write: it would be overwritten at once anyway, and nothing runs between the
/// two. A chat whose history is kept rewrites its newest chunk for every message; without this, a
/// burst of messages queued one write per message, faster than IndexedDB took them, and what was
/// still queued when the page closed was lost.
pub fn enqueue<T>(queue: &mut VecDeque<T>, op: T, rewrites: impl Fn(&T, &T) -> bool) {
    match queue.back_mut() {
        Some(last) if rewrites(last, &op) => *last = op,
        _ => queue.push_back(op),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    enum Op {
        Put(&'static str, u32),
        Delete(&'static str),
        Lock,
    }

    fn same_record(a: &Op, b: &Op) -> bool {
        matches!((a, b), (Op::Put(x, _), Op::Put(y, _)) if x == y)
    }

    #[test]
    fn a_rewrite_of_the_last_queued_record_replaces_it_and_nothing_else_does() {
        let mut q = VecDeque::new();
        for v in 0..1000 {
            enqueue(&mut q, Op::Put("chunk-7", v), same_record);
        }
        assert_eq!(q, [Op::Put("chunk-7", 999)]);

        // Another record in between keeps both writes of the first, in order.
        enqueue(&mut q, Op::Put("switch", 1), same_record);
        enqueue(&mut q, Op::Put("chunk-7", 1000), same_record);
        assert_eq!(
            q,
            [
                Op::Put("chunk-7", 999),
                Op::Put("switch", 1),
                Op::Put("chunk-7", 1000)
            ]
        );

        // A delete or a lock is never merged, and a write after them is queued after them.
        enqueue(&mut q, Op::Delete("chunk-7"), same_record);
        enqueue(&mut q, Op::Put("chunk-7", 1), same_record);
        enqueue(&mut q, Op::Lock, same_record);
        enqueue(&mut q, Op::Lock, same_record);
        enqueue(&mut q, Op::Put("chunk-7", 2), same_record);
        assert_eq!(q.len(), 8);
        assert_eq!(q.back(), Some(&Op::Put("chunk-7", 2)));
        assert_eq!(q[3], Op::Delete("chunk-7"));
        assert_eq!(q[5], Op::Lock);
    }
}
