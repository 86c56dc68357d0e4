export { Public } from './public.decorator.js';
export { AnyScope, Scopes } from './scopes.decorator.js';
export { CurrentUser } from './current-user.decorator.js';
