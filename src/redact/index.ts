export type { Form } from "./forms.js";
export {
  DEFAULT_MIN_LENGTH,
  type Hit,
  markerName,
  Redactor,
  type RedactorOptions,
  type Secret,
} from "./redactor.js";
export { type StreamOptions, StreamRedactor } from "./stream.js";
