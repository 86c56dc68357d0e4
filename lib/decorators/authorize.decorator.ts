import { SetMetadata } from '@nestjs/common';
import { POLICIES_METADATA_KEY } from '../oidc-resource.constants.js';
import { isPolicyClass, type Policy } from '../authorization/policies.js';

/**
 * Every listed policy must allow (they run in order, after the scope and role checks, and the
 * first refusal answers 403 `access_denied`). A policy is a function
 * `(principal, context) => boolean | Promise<boolean>`, or a class implementing `OidcPolicy`
 * that the app registers as a provider, so it can inject services. A policy that throws
 * anything but an `OidcResourceError` gives 500, never an allow. On a handler it overrides the
 * controller's `@Authorize()`.
 *
 * @example
 * @Authorize(NoteOwnerPolicy) @Delete(':id') remove() { … }
 * @example
 * @Authorize(claimEquals('email_verified', true)) @Post() create() { … }
 */
export const Authorize = (...policies: Policy[]): MethodDecorator & ClassDecorator => {
  if (policies.length === 0) throw new TypeError('@Authorize() needs at least one policy');
  policies.forEach((policy, i) => {
    if (typeof policy !== 'function') {
      throw new TypeError(
        `@Authorize(): policy #${i + 1} is ${policy === null ? 'null' : typeof policy}, not a function or a class implementing OidcPolicy`,
      );
    }
    // A class without allows() (a service passed by mistake) would only fail when called.
    if (!isPolicyClass(policy) && /^class[\s{]/.test(Function.prototype.toString.call(policy))) {
      throw new TypeError(
        `@Authorize(): ${policy.name || 'policy #' + (i + 1)} is a class without an allows() method (implement OidcPolicy)`,
      );
    }
  });
  return SetMetadata(POLICIES_METADATA_KEY, Object.freeze([...policies]));
};
