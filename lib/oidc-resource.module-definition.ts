import { ConfigurableModuleBuilder } from '@nestjs/common';
import { OIDC_RESOURCE_OPTIONS } from './oidc-resource.constants.js';
import type { OidcResourceModuleOptions } from './interfaces/oidc-resource-options.interface.js';

/** Injection token carrying the `global` extra, known before DI runs. */
export const OIDC_RESOURCE_GLOBAL_GUARD = Symbol.for('nestjs-oidc-resource:global-guard');

/** Extras change the module's shape, so they sit beside `useFactory`, not inside the options. */
export interface OidcResourceModuleExtras {
  /** Register the guard as `APP_GUARD`. @default true */
  global?: boolean;
}

export const {
  ConfigurableModuleClass,
  OPTIONS_TYPE: OIDC_RESOURCE_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: OIDC_RESOURCE_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<OidcResourceModuleOptions>({
  optionsInjectionToken: OIDC_RESOURCE_OPTIONS,
  moduleName: 'OidcResource',
})
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createOidcResourceOptions')
  .setExtras<OidcResourceModuleExtras>({ global: true }, (definition, extras) => ({
    ...definition,
    global: true,
    providers: [
      ...(definition.providers ?? []),
      { provide: OIDC_RESOURCE_GLOBAL_GUARD, useValue: extras.global !== false },
    ],
  }))
  .build();
