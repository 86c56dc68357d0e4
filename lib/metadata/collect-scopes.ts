import type { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { ANY_SCOPE_METADATA_KEY, SCOPES_METADATA_KEY } from '../oidc-resource.constants.js';

/**
 * Every scope named by `@Scopes()` or `@AnyScope()` in the application, on classes or methods of
 * controllers and providers (GraphQL resolvers and WebSocket gateways are providers), sorted and
 * deduplicated. Read once, at start, from the classes themselves, so request-scoped classes count
 * too; factory and value providers have no decorators to read.
 */
export function collectScopes(
  discovery: DiscoveryService,
  scanner: MetadataScanner,
  reflector: Reflector,
): string[] {
  const scopes = new Set<string>();
  const read = (target: object): void => {
    for (const key of [SCOPES_METADATA_KEY, ANY_SCOPE_METADATA_KEY]) {
      const list = reflector.get<unknown>(key, target as never);
      if (Array.isArray(list))
        for (const scope of list) if (typeof scope === 'string') scopes.add(scope);
    }
  };
  const classes = new Set<abstract new (...args: never[]) => unknown>();
  for (const wrapper of [...discovery.getControllers(), ...discovery.getProviders()]) {
    const type: unknown = wrapper.metatype;
    // A factory provider's metatype is its factory function (it has `inject`), not a class.
    if (typeof type !== 'function' || wrapper.inject != null || !type.prototype) continue;
    classes.add(type as abstract new (...args: never[]) => unknown);
  }
  for (const type of classes) {
    try {
      read(type);
      const prototype = type.prototype as Record<string, unknown>;
      for (const name of scanner.getAllMethodNames(prototype)) read(prototype[name] as object);
    } catch {
      // Some other library's class (a proxy, an exotic prototype) that cannot be read: it holds
      // no decorator of this package, and the document must not stop the app from starting.
    }
  }
  return [...scopes].sort();
}
