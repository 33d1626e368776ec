/**
 * What guest-stub's "input" scene accepts on its WebSocket (`glasspane stub --input-port N`): the
 * messages the viewer's stub input sink (src/input/stub-sink.ts) sends, one JSON object each,
 * shaped like the SPICE inputs channel's: keys as PC set-1 scancodes (0xe0NN for E0-prefixed
 * keys), relative motion, absolute position, buttons with the cumulative button state, wheel
 * notches. Defined here, below both ends, so the sink and the stub share one contract without the
 * producer importing the product's input layer.
 */

/**
 * A mouse button by name. The same names as input's MouseButton: the stub sink passes a
 * MouseButton where a StubButton is expected, so the compiler keeps the two lists in step.
 */
export type StubButton = 'left' | 'middle' | 'right' | 'side' | 'extra';

/** One input message; `buttons` is the SPICE button-state mask after the event (left 1, middle 2, right 4, side 8, extra 16). */
export type StubInputMessage =
  | { t: 'key'; down: boolean; scancode: number }
  | { t: 'motion'; dx: number; dy: number; buttons: number }
  | { t: 'position'; x: number; y: number; buttons: number }
  | { t: 'button'; button: StubButton; down: boolean; buttons: number }
  | { t: 'wheel'; notches: number };
