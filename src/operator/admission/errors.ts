/** Errors of requests the admission webhook cannot judge, with stable codes. */
import { SigwatchError } from '../../base/errors.js';

export type AdmissionErrorCode =
  /** Not an `admission.k8s.io/v1` AdmissionReview with a request Sigwatch can read: HTTP 400. */
  | 'BadReview'
  /** A pod template with more containers than any real pod: refused, never walked. */
  | 'TooManyContainers';

export class AdmissionError extends SigwatchError<AdmissionErrorCode> {}
