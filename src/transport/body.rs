//! Response bodies: a whole buffer, or an SSE stream fed by a channel with keep-alive comments
//! while it is idle. Dropping the body (the client went away) closes the channel, which is how
//! senders learn that a stream lost its reader.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;
use tokio::time::Interval;

use crate::session::backlog::Backlog;

pub enum OutBody {
    Full(Option<Bytes>),
    Sse {
        /// A frame to send before anything from `rx`.
        head: Option<Bytes>,
        rx: mpsc::UnboundedReceiver<Bytes>,
        keepalive: Interval,
        /// Runs when the body is dropped (e.g. a listen stream's bookkeeping).
        on_drop: Option<Box<dyn FnOnce() + Send + Sync>>,
        /// Says why the server ended the stream early, when it did (stream metrics).
        end: Option<Arc<Backlog>>,
    },
    /// A stream whose frames and end are watched (operation metrics).
    Metered {
        inner: Box<OutBody>,
        meter: Box<dyn BodyWatch>,
    },
}

/// Sees each data frame of a body as it is handed to the connection, and its end.
pub trait BodyWatch: Send + Sync {
    fn frame(&mut self, data: &Bytes);
    fn end(&mut self);
}

impl OutBody {
    pub fn full(b: impl Into<Bytes>) -> Self {
        OutBody::Full(Some(b.into()))
    }

    pub fn empty() -> Self {
        OutBody::Full(None)
    }

    pub fn sse(rx: mpsc::UnboundedReceiver<Bytes>, keepalive: Duration) -> Self {
        let mut keepalive =
            tokio::time::interval_at(tokio::time::Instant::now() + keepalive, keepalive);
        keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        OutBody::Sse {
            head: None,
            rx,
            keepalive,
            on_drop: None,
            end: None,
        }
    }

    /// Ties the stream to the backlog whose end cause tells why it closed.
    pub fn with_end(mut self, backlog: Arc<Backlog>) -> Self {
        if let OutBody::Sse { end, .. } = &mut self {
            *end = Some(backlog);
        }
        self
    }

    /// The backlog given to [`OutBody::with_end`], if any.
    pub fn stream_end(&self) -> Option<Arc<Backlog>> {
        match self {
            OutBody::Sse { end, .. } => end.clone(),
            OutBody::Metered { inner, .. } => inner.stream_end(),
            OutBody::Full(_) => None,
        }
    }

    pub fn with_head(mut self, frame: Bytes) -> Self {
        if let OutBody::Sse { head, .. } = &mut self {
            *head = Some(frame);
        }
        self
    }

    /// The whole body when it is one buffer (`Some(None)`: empty), `None` for a stream.
    pub fn take_whole(&mut self) -> Option<Option<Bytes>> {
        match self {
            OutBody::Full(b) => Some(b.take()),
            // Only streams are watched (`Meter::attach` records a whole body itself).
            OutBody::Sse { .. } | OutBody::Metered { .. } => None,
        }
    }

    pub fn metered(self, meter: Box<dyn BodyWatch>) -> Self {
        OutBody::Metered {
            inner: Box::new(self),
            meter,
        }
    }

    pub fn with_on_drop(mut self, f: impl FnOnce() + Send + Sync + 'static) -> Self {
        if let OutBody::Sse { on_drop, .. } = &mut self {
            *on_drop = Some(Box::new(f));
        }
        self
    }
}

impl Drop for OutBody {
    fn drop(&mut self) {
        if let OutBody::Sse { on_drop, .. } = self {
            if let Some(f) = on_drop.take() {
                f();
            }
        }
    }
}

const KEEPALIVE: &[u8] = b": keepalive\n\n";

impl Body for OutBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.get_mut() {
            OutBody::Metered { inner, meter } => {
                let r = Pin::new(&mut **inner).poll_frame(cx);
                match &r {
                    Poll::Ready(Some(Ok(frame))) => {
                        if let Some(data) = frame.data_ref() {
                            meter.frame(data);
                        }
                        if inner.is_end_stream() {
                            meter.end();
                        }
                    }
                    Poll::Ready(None) => meter.end(),
                    _ => {}
                }
                r
            }
            OutBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            OutBody::Sse {
                head,
                rx,
                keepalive,
                ..
            } => {
                if let Some(first) = head.take() {
                    return Poll::Ready(Some(Ok(Frame::data(first))));
                }
                match rx.poll_recv(cx) {
                    Poll::Ready(Some(b)) => {
                        keepalive.reset();
                        Poll::Ready(Some(Ok(Frame::data(b))))
                    }
                    Poll::Ready(None) => Poll::Ready(None),
                    Poll::Pending => match keepalive.poll_tick(cx) {
                        Poll::Ready(_) => {
                            Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(KEEPALIVE)))))
                        }
                        Poll::Pending => Poll::Pending,
                    },
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            OutBody::Metered { inner, .. } => inner.is_end_stream(),
            other => matches!(other, OutBody::Full(None)),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            OutBody::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            OutBody::Full(None) => SizeHint::with_exact(0),
            OutBody::Sse { .. } => SizeHint::default(),
            OutBody::Metered { inner, .. } => inner.size_hint(),
        }
    }
}
