export { diagnose } from './diagnose.js';
export { renderForRoot, renderText } from './render.js';
export type {
  DiagnoseSettings,
  Diagnosis,
  DoctorCheck,
  DoctorFinding,
  DoctorStatus,
} from './types.js';
