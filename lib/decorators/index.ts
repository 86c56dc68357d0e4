export { Public } from './public.decorator.js';
export { AnyScope, Scopes } from './scopes.decorator.js';
export { AnyRole, Roles } from './roles.decorator.js';
export { Authorize } from './authorize.decorator.js';
export { CurrentUser } from './current-user.decorator.js';
export { StepUp, type StepUpRequirement } from './step-up.decorator.js';
