//! Command families: how each domain plugs its commands, timers and invariant checks into
//! the engine, registered in one place ([`families!`] in `lib.rs`).
//!
//! A family lives in its own folder (`accounts/`, `wallet/`, `markets/`, …) with a unit
//! struct `Family` implementing [`CommandFamily`]. The protocol names each command's
//! [`Domain`](betbet_protocol::command::Domain) in an exhaustive match, and the registry
//! maps each domain to its family, so neither a new command nor a new domain compiles until
//! it is routed. See ARCHITECTURE.md, "How to add a command family".

use crate::{Ctx, Engine};
use betbet_protocol::command::Command;
use betbet_protocol::event::Event;
use betbet_protocol::message::Reply;
use betbet_protocol::result::ResultCode;
use betbet_protocol::types::Timestamp;

/// One domain's part of the state machine.
pub(crate) trait CommandFamily {
    /// Applies one of the family's commands (the registry routes only those here). Like
    /// every handler: check everything first, then mutate; a rejection changes nothing.
    fn apply(
        engine: &mut Engine,
        command: &Command,
        ctx: &Ctx,
        out: &mut Vec<Event>,
    ) -> Result<Reply, ResultCode>;

    /// The family's time-driven rules. Every `Tick` runs the families' in registration
    /// order, which replay depends on: append a new family, never reorder.
    fn tick(_engine: &mut Engine, _out: &mut Vec<Event>) {}

    /// The earliest time [`CommandFamily::tick`] has something to do, so the runtime
    /// injects a `Tick` only when one would change something.
    fn next_deadline(_engine: &Engine) -> Option<Timestamp> {
        None
    }

    /// Asserts the family's invariants. O(state): tests call it after every command.
    fn check(_engine: &Engine) {}
}

/// A command routed to a family that does not own it: the registry and
/// `Command::domain` disagree, a programming error no input can cause.
pub(crate) fn misrouted(command: &Command, family: &str) -> ! {
    unreachable!("{} routed to the {family} family", command.kind())
}

/// Registers the families: `Domain::X => x::Family`, in the order their timers run.
/// Generates the engine's command routing, `tick`, `next_deadline` and `check`.
macro_rules! families {
    ($($domain:ident => $family:path),+ $(,)?) => {
        impl Engine {
            /// Routes a command to its family (system commands are the engine's own).
            fn dispatch(
                &mut self,
                command: &Command,
                ctx: &Ctx,
                out: &mut Vec<Event>,
            ) -> Result<Reply, ResultCode> {
                use $crate::family::CommandFamily as _;
                match command.domain() {
                    betbet_protocol::command::Domain::System => self.apply_system(command, out),
                    $( betbet_protocol::command::Domain::$domain => {
                        <$family>::apply(self, command, ctx, out)
                    } )+
                }
            }

            /// Every family's time-driven rules, in registration order.
            fn tick_families(&mut self, out: &mut Vec<Event>) {
                use $crate::family::CommandFamily as _;
                $( <$family>::tick(self, out); )+
            }

            /// The earliest deadline of any family's timers.
            fn families_deadline(&self) -> Option<Timestamp> {
                use $crate::family::CommandFamily as _;
                [$( <$family>::next_deadline(self) ),+].into_iter().flatten().min()
            }

            /// Every family's invariants.
            fn check_families(&self) {
                use $crate::family::CommandFamily as _;
                $( <$family>::check(self); )+
            }
        }
    };
}
pub(crate) use families;
